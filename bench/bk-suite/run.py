#!/usr/bin/env python3
"""Runs BuildKit's Dockerfile integration suite through one gateway frontend image.

    run.py --binary dockerfile.test --cwd <pkg dir> --image <oci tarball> --mirror <storage dir>
           --out <dir> [--run REGEX] [--timeout SECONDS] [--parallel N] [--attempts N]

Writes <out>/results.json ({"tests": {name: {"result", "elapsed", "reason"}}, "wall", ...}),
the test2json events of every run of the binary (<out>/events.<n>.json) and the output of
every test that did not pass (<out>/logs/). An entry is what the framework registers, one per
test function and matrix value; tests a test function runs itself are part of their entry.

A test that panics in test code ends the whole binary, and a hung one holds it until the run
timeout (-test.timeout). The binary is then started again for exactly the entries left (Go's
-test.run matches names level by level, so one run per matrix suffix), then once more with
-test.skip of every function seen, for anything the dead binary never listed. A test that
panicked is failed by Go itself; the tests running when the binary died otherwise are rerun
one at a time, and recorded as `crash` when it dies again; those running at the timeout are
recorded as `timeout`. At most --attempts rounds of that; what is left is `notrun`.

The suite starts its own buildkitd daemons and registries, which outlive a killed binary:
every process started here carries a marker variable, and after every run those
processes, the runc containers whose bundle lies in this run's TMPDIR and the mounts under it
are removed, by pid, id and path.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

TOP = "TestIntegration"
MARKER = "BK_SUITE_ID"
RESULTS = ("pass", "fail", "skip")


def log(msg):
    print(f"bk-suite: {msg}", file=sys.stderr, flush=True)


def function_of(name):
    """TestIntegration/TestFoo/worker=oci/frontend=gateway -> TestFoo."""
    parts = name.split("/")
    return parts[1] if len(parts) > 1 else None


def reason_of(text, result):
    """A one-line why from a test's output: testify's Error:, a panic, or a skip message."""
    lines = [line.strip() for line in text.splitlines()]
    if result != "skip":
        for i, line in enumerate(lines):
            if line.startswith("panic:"):
                return line[:240]
            if line.startswith("Error:"):
                msg = line[len("Error:"):].strip()
                nxt = lines[i + 1] if i + 1 < len(lines) else ""
                if msg.endswith(":") and nxt and not re.match(r"^[A-Z][a-z ]+:\s", nxt):
                    msg += " " + nxt
                return msg[:240]
    said = [m.group(1) for m in (re.match(r"^\S+\.go:\d+: (.+)$", line) for line in lines) if m]
    return said[-1][:240] if said else ""


class Suite:
    """The results so far, across runs of the binary; the first result of a test wins."""

    def __init__(self, out):
        self.out = out
        self.logs = os.path.join(out, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.names = set()
        self.parent = {}
        self.tests = {}
        self.crashes = {}

    def owner(self, name):
        """The suite entry a test belongs to: itself, or for a t.Run inside a test, that test.

        The entries are what the framework registers, one per function and matrix value
        (TestIntegration/TestFoo/worker=oci/frontend=gateway[/key=value...], one t.Run name);
        tests that test functions run themselves are parts of their entry, not entries."""
        if name in self.names or name in self.parent:
            return self.parent.get(name, name)
        parts = name.split("/")
        for i in range(len(parts) - 1, 1, -1):
            prefix = "/".join(parts[:i])
            if prefix in self.names:
                self.parent[name] = prefix
                return prefix
        self.names.add(name)
        return name

    def log_path(self, name):
        return os.path.join(self.logs, re.sub(r"[^A-Za-z0-9._=-]+", "_", name) + ".log")

    def record(self, name, result, elapsed, reason=None):
        if name in self.tests:
            return False
        path = self.log_path(name)
        if result == "pass":
            reason = ""
            if os.path.exists(path):
                os.remove(path)
        elif reason is None:
            try:
                with open(path, errors="replace") as f:
                    reason = reason_of(f.read(), result)
            except FileNotFoundError:
                reason = ""
        self.tests[name] = {"result": result, "elapsed": elapsed, "reason": reason}
        return True

    def pending(self):
        return sorted(self.names - set(self.tests))


class Attempt:
    """One run of the test binary, its events read as they come."""

    def __init__(self, suite):
        self.suite = suite
        self.running = set()
        self.new = 0
        self.timed_out = False
        self.last_fail = None
        self.top_failed = None
        self.panicked = None
        self.died_with = ""

    def output(self, entry, text):
        if text.startswith(f"--- FAIL: {TOP} ("):
            # A test that panics: Go fails it, then its parents, then prints the panic.
            self.top_failed = self.last_fail
        if "panic: test timed out after" in text:
            self.timed_out = True
        elif text.startswith(("panic:", "fatal error:")):
            self.died_with = self.died_with or text.strip()[:200]
            if self.top_failed and not self.panicked:
                self.panicked = self.top_failed
        if self.panicked:
            # The panic's trace is attributed to whichever test printed last.
            entry = self.panicked
            if text.startswith("panic:") and not self.suite.tests[entry]["reason"].startswith("panic:"):
                self.suite.tests[entry]["reason"] = text.strip()[:240]
        elif not entry or entry in self.suite.tests:
            return
        with open(self.suite.log_path(entry), "a") as f:
            f.write(text)

    def event(self, ev):
        name, action = ev.get("Test"), ev.get("Action")
        if not name or name == TOP:
            if action == "output":
                self.output(None, ev.get("Output", ""))
            return
        entry = self.suite.owner(name)
        if action == "output":
            self.output(entry, ev.get("Output", ""))
        elif entry != name:
            return
        elif action in ("run", "cont"):
            self.running.add(name)
        elif action == "pause":
            self.running.discard(name)
        elif action in RESULTS:
            self.running.discard(name)
            if self.suite.record(name, action, ev.get("Elapsed", 0.0)):
                self.new += 1
                self.last_fail = name if action == "fail" else self.last_fail

    def settle(self):
        """Results for the tests the binary was running when it died; True if it learnt
        anything (a result, or a suspect of the death, which gets a result the second time)."""
        marked = False
        for name in sorted(self.running - set(self.suite.tests)):
            if self.timed_out:
                marked |= self.suite.record(name, "timeout", 0.0, "still running at the run timeout")
                continue
            marked = True
            self.suite.crashes[name] = self.suite.crashes.get(name, 0) + 1
            if self.suite.crashes[name] >= 2:
                why = f"running when the test binary died, twice ({self.died_with or 'no panic printed'})"
                marked |= self.suite.record(name, "crash", 0.0, why)
        return marked


def exact(functions, suffix):
    """A -test.run pattern for exactly these functions' entries with this matrix suffix."""
    elems = [f"^({'|'.join(re.escape(fn) for fn in functions)})$"]
    elems += [f"^{re.escape(e)}$" for e in suffix.split("/")]
    return "/".join([TOP] + elems)


def invocations(suite, run):
    """What to run next, as (-test.run, -test.skip) pairs: first the whole selection; after a
    death, exactly the entries left (one at a time for those running at a death, so a second
    death names its cause), then anything the dead binary never got to list."""
    everything = f"{TOP}/{run}/worker=oci$"
    if not suite.names:
        return [(everything, None)]
    alone, groups = [], {}
    for name in suite.pending():
        _, fn, suffix = name.split("/", 2)
        if suite.crashes.get(name):
            alone.append((exact([fn], suffix), None))
        else:
            groups.setdefault(suffix, []).append(fn)
    known = sorted({function_of(n) for n in suite.names})
    unlisted = (everything, f"{TOP}/^({'|'.join(re.escape(fn) for fn in known)})$")
    return alone + [(exact(fns, sfx), None) for sfx, fns in sorted(groups.items())] + [unlisted]


def leftovers(marker, tmp):
    """Ends what a run left behind: its processes, runc containers and mounts."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if marker.encode() in f.read().split(b"\0"):
                    pids.append(int(pid))
        except OSError:
            continue
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        if pids and sig == signal.SIGTERM:
            time.sleep(3)
    if pids:
        log(f"ended {len(pids)} leftover processes")
    listed = subprocess.run(["runc", "list", "-f", "json"], capture_output=True, text=True)
    ours = [c["id"] for c in json.loads(listed.stdout or "null") or []
            if c.get("bundle", "").startswith(tmp + "/")]
    for cid in ours:
        subprocess.run(["runc", "delete", "--force", cid], capture_output=True)
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4].encode().decode("unicode_escape") for line in f]
    points = sorted((p for p in points if p.startswith(tmp + "/")), key=len, reverse=True)
    for point in points:
        if subprocess.run(["umount", point], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", point], capture_output=True)
    if ours or points:
        log(f"deleted {len(ours)} leftover runc containers, unmounted {len(points)} leftover mounts")


def attempt(args, suite, number, env, run_pattern, skip):
    cmd = [args.binary, "-test.run", run_pattern, "-test.parallel", str(args.parallel),
           "-test.v=test2json", "-test.timeout", f"{args.timeout}s"]
    if skip:
        cmd += ["-test.skip", skip]
    run = Attempt(suite)
    binary = subprocess.Popen(cmd, cwd=args.cwd, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, start_new_session=True)
    conv = subprocess.Popen(["go", "tool", "test2json", "-t"], stdin=binary.stdout,
                            stdout=subprocess.PIPE, text=True, errors="replace")
    binary.stdout.close()

    def kill():
        # -test.timeout did not end the binary: end it, and record its tests as timed out.
        run.timed_out = True
        try:
            os.killpg(binary.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    timer = threading.Timer(args.timeout + 120, kill)
    timer.start()
    try:
        with open(os.path.join(suite.out, f"events.{number}.json"), "w") as events:
            events.write(json.dumps({"args": cmd}) + "\n")
            for line in conv.stdout:
                events.write(line)
                try:
                    run.event(json.loads(line))
                except json.JSONDecodeError:
                    continue
    except BaseException:
        # Interrupted: do not wait for the binary to finish on its own.
        os.killpg(binary.pid, signal.SIGKILL)
        raise
    finally:
        timer.cancel()
        conv.wait()
        code = binary.wait()
    return run, code


def run_all(args, suite, env, marker, tmp):
    """Rounds of invocations until every entry has a result; returns the invocation count."""
    number = 0
    for round_ in range(1, args.attempts + 1):
        progress, died = False, False
        for run_pattern, skip in invocations(suite, args.run):
            number += 1
            log(f"run {number}: {len(suite.tests)} results so far; -test.run {run_pattern[:120]}"
                + (" with -test.skip of finished functions" if skip else ""))
            run, code = attempt(args, suite, number, env, run_pattern, skip)
            leftovers(marker, tmp)
            marked = run.settle()
            progress |= bool(run.new or marked)
            if code not in (0, 1):
                died = True
                log(f"run {number} died (exit {code}{', timed out' if run.timed_out else ''}); "
                    f"running then: {', '.join(sorted(run.running)) or '-'}")
        if not (suite.pending() or died):
            return number
        if not progress:
            break
    for name in suite.pending():
        suite.record(name, "notrun", 0.0, f"not run: the test binary died {number} times")
    return number


def main():
    p = argparse.ArgumentParser()
    for flag in ("--binary", "--cwd", "--image", "--mirror", "--out"):
        p.add_argument(flag, required=True)
    p.add_argument("--run", default=".*")
    p.add_argument("--timeout", type=int, default=1800)
    p.add_argument("--parallel", type=int, default=2)
    p.add_argument("--attempts", type=int, default=30, help="rounds of restarts at most")
    args = p.parse_args()
    for path in ("binary", "cwd", "image", "mirror", "out"):
        setattr(args, path, os.path.realpath(getattr(args, path)))

    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(os.path.join(args.out, "bin"))
    # The framework starts its registries as `registry`; Debian ships it as docker-registry.
    os.symlink(shutil.which("docker-registry"), os.path.join(args.out, "bin", "registry"))
    # A fresh copy per run: the framework pushes the frontend image into the mirror.
    shutil.copytree(os.path.join(args.mirror, "data"), os.path.join(args.out, "mirror", "data"),
                    symlinks=True)
    # Short: daemons and tests put unix sockets under TMPDIR (108-byte limit).
    tmp = os.path.realpath(tempfile.mkdtemp(prefix="bks-", dir="/tmp"))
    marker = f"{MARKER}={uuid.uuid4()}"
    env = {k: v for k, v in os.environ.items() if k not in ("BUILDKIT_HOST", "DOCKER_HOST")}
    env.update({
        "PATH": os.path.join(args.out, "bin") + ":" + env["PATH"] + ":/usr/sbin:/sbin",
        "TMPDIR": tmp,
        "BUILDKIT_REGISTRY_MIRROR_DIR": os.path.join(args.out, "mirror"),
        "FRONTEND_GATEWAY_ONLY": "local:" + args.image,
        MARKER: marker.split("=", 1)[1],
    })

    # Killed by a signal, still end what the suite started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    suite = Suite(args.out)
    started = time.monotonic()
    try:
        number = run_all(args, suite, env, marker, tmp)
    finally:
        leftovers(marker, tmp)
        if any(line.split()[4].startswith(tmp + "/") for line in open("/proc/self/mountinfo")):
            log(f"mounts left under {tmp}; not removing it")
        else:
            subprocess.run(["rm", "-rf", "--one-file-system", tmp])
    wall = time.monotonic() - started
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"run": args.run, "image": args.image, "wall": wall, "attempts": number,
                   "tests": suite.tests}, f, indent=1, sort_keys=True)
    counts = {}
    for t in suite.tests.values():
        counts[t["result"]] = counts.get(t["result"], 0) + 1
    log(f"{len(suite.tests)} tests in {wall:.0f}s, {number} run(s) of the test binary: {counts}")
    if not suite.tests:
        sys.exit(f"bk-suite: no test ran; see {args.out}/events.1.json")


if __name__ == "__main__":
    main()
