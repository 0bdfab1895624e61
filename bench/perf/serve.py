"""The http workload's server: the rig's (`python3 -m http.server`) listens with a backlog of
5 and resets connections when BuildKit fetches 100 files at once, which fails builds in
every column. Same files, same handler, a backlog that takes a whole Dockerfile's fetches.

    python3 serve.py PORT DIR
"""

import functools
import http.server
import os
import sys

BACKLOG = 512


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = BACKLOG
    daemon_threads = True


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def close_inherited():
    """Drops every inherited descriptor past stdio, so a lock the starter held (flock)
    is not held on by this server after the starter is gone."""
    for fd in (int(f) for f in os.listdir("/proc/self/fd")):
        if fd > 2:
            try:
                os.close(fd)
            except OSError:
                pass


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    close_inherited()
    handler = functools.partial(Quiet, directory=directory)
    with Server(("127.0.0.1", port), handler) as httpd:
        httpd.serve_forever()


if __name__ == "__main__":
    main()
