"""An HTTP server whose content changes on every GET: a file replaced between the moment
the verified frontend checks it and the moment the build downloads it. Loopback only."""
import http.server
import sys
import threading

lock = threading.Lock()
count = 0


class Flip(http.server.BaseHTTPRequestHandler):
    def _body(self, advance):
        global count
        with lock:
            if advance:
                count += 1
            return f"flip {count}\n".encode(), count

    def do_HEAD(self):
        body, n = self._body(False)
        self._headers(body, n)

    def do_GET(self):
        body, n = self._body(True)
        self._headers(body, n)
        self.wfile.write(body)

    def _headers(self, body, n):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", f'"flip-{n}"')
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Flip).serve_forever()
