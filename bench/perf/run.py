"""Measures the cells of bench/perf.sh: per workload and size, every column built once to
warm the cache (not measured), then BENCH_ROUNDS rounds, each building every column once in
an order rotated by one per round, so machine noise hits all columns alike. Writes the raw
times and the frontend's reports to target/bench/perf.json, then the markdown table."""

import fcntl
import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager

import breakdown
import table
import workloads

# (key, heading). The columns a ratio is taken against are named in table.py.
COLUMNS = [
    ("plain-builtin", "plain, builtin frontend"),
    ("plain-gateway", "plain, gateway Dockerfile image"),
    ("buildx-builtin", "Buildx policy, builtin"),
    ("buildx-gateway", "Buildx policy, gateway image"),
    ("verified", "verified-frontend"),
]
# The column of BENCH_BASELINE_IMAGE, when given.
BASELINE = "verified-baseline"
BUILDER = "vf-perf"
REPORT = "verified-frontend: report "
# Written at Return: the calls of the whole run (the report comes before the attestations).
CALLS = "verified-frontend: calls "
# A build that takes longer has hung; the cell records the failure and goes on.
TIMEOUT_S = 600
# Of a failed build's last line (a denial lists every fact the policy saw).
ERROR_CHARS = 300
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures.sh")


class Config:
    def __init__(self, env):
        self.rounds = int(env["BENCH_ROUNDS"])
        self.sizes = [int(n) for n in env["BENCH_N"].replace(",", " ").split()]
        self.workloads = env["BENCH_WORKLOADS"].split()
        self.lock = env.get("BENCH_LOCK") or None
        self.out = env["BENCH_OUT"]
        self.buildx_config = env["BENCH_BUILDX_CONFIG"]
        self.stock = env["BENCH_STOCK_IMAGE"]
        self.verified = env["BENCH_VERIFIED_IMAGE"]
        # Another verified-frontend image measured beside it (before/after a change).
        self.baseline = env.get("BENCH_BASELINE_IMAGE") or None
        self.daemon_log = env["BENCH_DAEMON_LOG"]
        self.sigstore = env["BENCH_SIGSTORE"]
        self.breakdown_n = int(env["BENCH_BREAKDOWN_N"])
        for w in self.workloads:
            if w not in workloads.SIZES:
                sys.exit(f"bench: unknown workload {w!r} in BENCH_WORKLOADS (known: {' '.join(workloads.SIZES)})")

    def columns(self):
        if self.baseline is None:
            return COLUMNS
        return COLUMNS + [(BASELINE, "verified-frontend, baseline image")]

    def cells(self):
        return [(w, n) for w in self.workloads for n in workloads.SIZES[w] if n in self.sizes]


def column_args(cfg, column, workload):
    """The `buildx build` flags that make a column what it is."""
    off = ["--policy", "disabled=true"]
    stock = ["--build-arg", f"BUILDKIT_SYNTAX={cfg.stock}"]
    if column == "plain-builtin":
        return off
    if column == "plain-gateway":
        return off + stock
    if column == "buildx-builtin":
        return []  # Buildx loads Dockerfile.rego beside the Dockerfile by itself
    if column == "buildx-gateway":
        return stock
    image = cfg.baseline if column == BASELINE else cfg.verified
    args = off + ["--build-arg", f"BUILDKIT_SYNTAX={image}"]
    if workload == "signed":
        args += ["--build-arg", "VERIFIED_FRONTEND_TRUSTED_ROOT=trusted_root.json"]
    return args


def build(cfg, ctx, column, workload):
    """One build's wall time, or the reason it failed."""
    # Nothing is exported (cacheonly), so export time does not drown what differs.
    cmd = ["buildx", "--builder", BUILDER, "build", "--progress", "quiet",
           "--output", "type=cacheonly", *column_args(cfg, column, workload), ctx]
    env = dict(os.environ, BUILDX_CONFIG=cfg.buildx_config)
    started = time.perf_counter()
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {TIMEOUT_S} s: {' '.join(cmd)}"
    took = time.perf_counter() - started
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or [""])[-1]
        return None, f"exit {p.returncode}: {last[:ERROR_CHARS]}"
    return took, None


def parse(line, prefix):
    try:
        return json.loads(line[len(prefix):])
    except json.JSONDecodeError:
        return {"unreadable": True}


def run_log_since(cfg, offset):
    """The frontend's timings for one build from what buildkitd logged after `offset`: the
    report's `timings` and the calls line written at Return."""
    with open(cfg.daemon_log, "rb") as f:
        f.seek(offset)
        data = f.read()
    run = {}
    for line in data.decode(errors="replace").splitlines():
        if line.startswith(REPORT):
            run["timings"] = parse(line, REPORT).get("timings", {})
        elif line.startswith(CALLS):
            run["final"] = parse(line, CALLS)
    return run


@contextmanager
def held(lock):
    if lock is None:
        yield
        return
    with open(lock, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def measure(cfg, workload, n):
    ctx = workloads.write_context(os.path.join(cfg.out, "perf", "ctx"), workload, n, cfg.sigstore)
    keys = [k for k, _ in cfg.columns()]
    cell = {"workload": workload, "n": n, "times": {k: [] for k in keys}, "errors": {}, "reports": []}
    with held(cfg.lock):
        # Someone may have remade the rig's fixtures (and its Sigstore root) since the last
        # cell; the bench's tags must name the images as they are now.
        subprocess.run(["bash", FIXTURES], check=True)
        for k in keys:
            _, err = build(cfg, ctx, k, workload)
            if err:
                cell["errors"][k] = err
        live = [k for k in keys if k not in cell["errors"]]
        for r in range(cfg.rounds):
            order = live[r % len(live):] + live[:r % len(live)] if live else []
            for k in order:
                offset = os.path.getsize(cfg.daemon_log)
                took, err = build(cfg, ctx, k, workload)
                if err:
                    cell["errors"].setdefault(k, err)
                    continue
                cell["times"][k].append(took)
                if k == "verified":
                    # The lock keeps other builds out, so the lines are this build's.
                    cell["reports"].append(run_log_since(cfg, offset))
    cell["breakdown"] = breakdown.summarize(cell["reports"])
    return cell


def main():
    cfg = Config(os.environ)
    results = {
        "rounds": cfg.rounds,
        "stock_image": cfg.stock,
        "verified_image": cfg.verified,
        "baseline_image": cfg.baseline,
        "breakdown_n": cfg.breakdown_n,
        "columns": cfg.columns(),
        "cells": [],
    }
    raw = os.path.join(cfg.out, "perf.json")
    for workload, n in cfg.cells():
        print(f"bench: {workload} N={n}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        results["cells"].append(measure(cfg, workload, n))
        print(f"bench: {workload} N={n} done in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        with open(raw, "w") as f:
            json.dump(results, f, indent=1)
    md = table.render(results)
    with open(os.path.join(cfg.out, "perf.md"), "w") as f:
        f.write(md)
    sys.stdout.write(md)


if __name__ == "__main__":
    main()
