#!/usr/bin/env python3
"""Writes the stand-in base images of BuildKit's Dockerfile suite into a registry storage tree.

    standins.py <mirror-dir>

The suite pre-fills its mirror registry from Docker Hub unless the mirror already resolves a
name; this machine has no Docker Hub, so every name the suite mirrors is written here, as the
`registry` (docker/distribution) filesystem driver lays it out under <mirror-dir>/data, from
Debian's busybox-static. The suite's framework writes the registry's config.yaml itself.

The images are built from bytes, not with a daemon: no lock on the shared rig is needed, and the
same busybox gives the same digests.
"""

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

BUSYBOX = "/bin/busybox"
# A fixed time for every file and the image config: identical inputs give identical digests.
EPOCH = 1672531200  # 2023-01-01T00:00:00Z
CREATED = "2023-01-01T00:00:00Z"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# The accounts of the busybox and alpine images the suite expects (daemon for --chown=daemon,
# gid 65534 named nobody for --chown=1000:nobody).
PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""
GROUP = """root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nobody:x:65534:
"""

# Debian builds busybox without adduser/addgroup; the suite's Dockerfiles call the busybox
# forms (`adduser -D [-u UID] [-G GROUP] USER`, `addgroup [-g GID] GROUP`).
ADDUSER = r"""#!/bin/sh
# Stand-in for busybox adduser: adduser [-DSH] [-h DIR] [-g GECOS] [-s SHELL] [-G GROUP] [-u UID] USER
set -e
home= gecos="Linux User,,," shell=/bin/sh group= uid= nohome= lo=1000
while getopts "DSHh:g:s:G:u:k:" o; do
  case $o in
    D | k) ;;
    S) lo=100 shell=/sbin/nologin ;;
    H) nohome=1 ;;
    h) home=$OPTARG ;;
    g) gecos=$OPTARG ;;
    s) shell=$OPTARG ;;
    G) group=$OPTARG ;;
    u) uid=$OPTARG ;;
    *) exit 1 ;;
  esac
done
shift $((OPTIND - 1))
user=$1
[ -n "$user" ] || { echo "adduser: no user name given" >&2; exit 1; }
if grep -q "^$user:" /etc/passwd; then echo "adduser: user '$user' in use" >&2; exit 1; fi
# As busybox: the lowest id from $lo free as a uid (and as a gid when the user gets its own group).
free_id() { awk -F: -v n="$lo" '{ used[$3] = 1 } END { while (n in used) n++; print n }' "$@"; }
if [ -n "$group" ]; then
  gid=$(awk -F: -v g="$group" '$1 == g || $3 == g { print $3; exit }' /etc/group)
  [ -n "$gid" ] || { echo "adduser: unknown group $group" >&2; exit 1; }
  [ -n "$uid" ] || uid=$(free_id /etc/passwd)
else
  if grep -q "^$user:" /etc/group; then echo "adduser: group '$user' in use" >&2; exit 1; fi
  [ -n "$uid" ] || uid=$(free_id /etc/passwd /etc/group)
  gid=$uid
  echo "$user:x:$gid:" >>/etc/group
fi
[ -n "$home" ] || home=/home/$user
echo "$user:x:$uid:$gid:$gecos:$home:$shell" >>/etc/passwd
if [ -z "$nohome" ]; then mkdir -p "$home" && chown "$uid:$gid" "$home"; fi
"""
ADDGROUP = r"""#!/bin/sh
# Stand-in for busybox addgroup: addgroup [-S] [-g GID] GROUP, or addgroup USER GROUP
set -e
gid= lo=1000
while getopts "Sg:" o; do
  case $o in
    S) lo=100 ;;
    g) gid=$OPTARG ;;
    *) exit 1 ;;
  esac
done
shift $((OPTIND - 1))
if [ $# -eq 2 ]; then
  grep -q "^$2:" /etc/group || { echo "addgroup: unknown group $2" >&2; exit 1; }
  awk -F: -v OFS=: -v u="$1" -v g="$2" '$1 == g { $4 = ($4 == "" ? u : $4 "," u) } { print }' \
    /etc/group >/etc/group.new && cat /etc/group.new >/etc/group && rm /etc/group.new
  exit 0
fi
[ $# -eq 1 ] || { echo "addgroup: no group name given" >&2; exit 1; }
if grep -q "^$1:" /etc/group; then echo "addgroup: group '$1' in use" >&2; exit 1; fi
[ -n "$gid" ] || gid=$(awk -F: -v n="$lo" '{ used[$3] = 1 } END { while (n in used) n++; print n }' /etc/group)
echo "$1:x:$gid:" >>/etc/group
"""

DIRS = {
    "bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755, "lib": 0o755, "proc": 0o555,
    "root": 0o700, "sbin": 0o755, "sys": 0o555, "tmp": 0o1777, "usr": 0o755,
    "usr/bin": 0o755, "usr/sbin": 0o755, "usr/local": 0o755, "usr/local/bin": 0o755,
    "var": 0o755, "var/spool": 0o755, "var/spool/mail": 0o755, "var/www": 0o755,
}


def entry(name, kind=tarfile.REGTYPE, mode=0o644, size=0, link=""):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.linkname = kind, mode, size, link
    info.mtime, info.uid, info.gid, info.uname, info.gname = EPOCH, 0, 0, "root", "root"
    return info


def applets():
    """The applet paths of Debian's busybox, plus /bin/<applet> as the busybox image has."""
    listed = subprocess.run([BUSYBOX, "--list-full"], check=True, capture_output=True, text=True)
    paths = {p for p in listed.stdout.split() if p and p != "bin/busybox"}
    paths |= {"bin/" + os.path.basename(p) for p in paths}
    return sorted(paths)


def layer(extra_files):
    """The rootfs as an uncompressed tar: busybox, its applets, accounts and the extra files."""
    files = {"etc/passwd": PASSWD, "etc/group": GROUP, "bin/adduser": ADDUSER,
             "bin/addgroup": ADDGROUP, **extra_files}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d, mode in sorted(DIRS.items()):
            tar.addfile(entry(d, tarfile.DIRTYPE, mode))
        with open(BUSYBOX, "rb") as f:
            data = f.read()
        tar.addfile(entry("bin/busybox", mode=0o755, size=len(data)), io.BytesIO(data))
        for path in applets():
            if path not in files:
                tar.addfile(entry(path, tarfile.SYMTYPE, 0o777, link="/bin/busybox"))
        for path, text in sorted(files.items()):
            data = text.encode()
            mode = 0o755 if text.startswith("#!") else 0o644
            tar.addfile(entry(path, mode=mode, size=len(data)), io.BytesIO(data))
    return buf.getvalue()


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Storage:
    """The registry's filesystem layout: global blobs, per-repository links."""

    def __init__(self, root):
        self.root = os.path.join(root, "data", "docker", "registry", "v2")

    def _write(self, path, data):
        path = os.path.join(self.root, path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    def blob(self, repo, data, layer_link=True):
        dgst = digest(data)
        algo, hexd = dgst.split(":")
        self._write(f"blobs/{algo}/{hexd[:2]}/{hexd}/data", data)
        if layer_link:
            self._write(f"repositories/{repo}/_layers/{algo}/{hexd}/link", dgst.encode())
        return dgst

    def manifest(self, repo, tag, data):
        dgst = self.blob(repo, data, layer_link=False)
        algo, hexd = dgst.split(":")
        link = dgst.encode()
        self._write(f"repositories/{repo}/_manifests/revisions/{algo}/{hexd}/link", link)
        self._write(f"repositories/{repo}/_manifests/tags/{tag}/current/link", link)
        self._write(f"repositories/{repo}/_manifests/tags/{tag}/index/{algo}/{hexd}/link", link)
        return dgst


def image(storage, ref, cmd, extra_files):
    repo, tag = ref.rsplit(":", 1)
    tar = layer(extra_files)
    gz = gzip.compress(tar, mtime=0)
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": CREATED,
        "config": {"Env": [PATH_ENV], "Cmd": cmd},
        "rootfs": {"type": "layers", "diff_ids": [digest(tar)]},
        "history": [{"created": CREATED, "created_by": f"stand-in for {ref} from Debian busybox-static"}],
    }, sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": storage.blob(repo, config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": storage.blob(repo, gz), "size": len(gz)}],
    }, sort_keys=True).encode()
    print(f"{ref} {storage.manifest(repo, tag, manifest)}")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: standins.py <mirror-dir>")
    if not os.access(BUSYBOX, os.X_OK):
        sys.exit(f"standins.py: {BUSYBOX} missing (Debian package busybox-static)")
    storage = Storage(sys.argv[1])
    alpine = {"etc/alpine-release": "3.18.4\n",
              "etc/os-release": 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.18.4\n'}
    debian = {"etc/debian_version": "11.6\n",
              "etc/os-release": 'NAME="Debian GNU/Linux"\nID=debian\nVERSION_ID="11"\n'}
    image(storage, "library/busybox:latest", ["sh"], {})
    image(storage, "library/busybox:stable-musl", ["sh"], {})
    image(storage, "library/alpine:latest", ["/bin/sh"], alpine)
    image(storage, "tonistiigi/hellofs:latest", ["sh"], {})
    image(storage, "amd64/debian:bullseye-20230109-slim", ["sh"], debian)


if __name__ == "__main__":
    main()
