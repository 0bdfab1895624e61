#!/usr/bin/env python3
"""Compares the suite's results through the stock Dockerfile frontend image and verified-frontend.

    report.py <stock results.json> <verified results.json> <report file>

Prints (and writes to the report file) one row per test, both frontends' counts and summed
test times, and `parity: N of M`: M tests pass with the stock image, N of them also pass
through verified-frontend. Exits 1 when N < M, or when the stock image passes nothing (a
broken environment, not parity).
"""

import json
import os
import sys


def short(name):
    """TestIntegration/TestFoo/worker=oci/frontend=gateway/x=y -> TestFoo/x=y."""
    parts = name.split("/")[1:]
    return "/".join(p for p in parts if p not in ("worker=oci", "frontend=gateway"))


def counts(tests):
    c = {}
    for t in tests.values():
        c[t["result"]] = c.get(t["result"], 0) + 1
    return ", ".join(f"{n} {r}" for r, n in sorted(c.items(), key=lambda kv: -kv[1]))


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: report.py <stock results.json> <verified results.json> <report file>")
    with open(sys.argv[1]) as f:
        stock = json.load(f)
    with open(sys.argv[2]) as f:
        verified = json.load(f)
    st, vt = stock["tests"], verified["tests"]
    missing = {"result": "-", "elapsed": 0.0, "reason": "not in this run"}
    names = sorted(set(st) | set(vt), key=short)

    out = []
    width = max([len(short(n)) for n in names] + [4])
    out.append(f"{'test':<{width}}  {'stock':<7} {'verified':<8} {'stock_s':>8} {'verif_s':>8}")
    regressions, gained = [], []
    for n in names:
        s, v = st.get(n, missing), vt.get(n, missing)
        mark = ""
        if s["result"] == "pass" and v["result"] != "pass":
            mark = "REGRESSION"
            regressions.append(n)
        elif v["result"] == "pass" and s["result"] != "pass":
            mark = "verified only"
            gained.append(n)
        out.append(f"{short(n):<{width}}  {s['result']:<7} {v['result']:<8} "
                   f"{s['elapsed']:>8.2f} {v['elapsed']:>8.2f}  {mark}".rstrip())

    both = [n for n in names if st.get(n, missing)["result"] == "pass" == vt.get(n, missing)["result"]]
    s_both = sum(st[n]["elapsed"] for n in both)
    v_both = sum(vt[n]["elapsed"] for n in both)
    m = sum(1 for t in st.values() if t["result"] == "pass")
    out.append("")
    for label, r in (("stock", stock), ("verified", verified)):
        total = sum(t["elapsed"] for t in r["tests"].values())
        out.append(f"{label + ':':<10} {len(r['tests'])} tests: {counts(r['tests'])}; summed test time "
                   f"{total:.1f}s; wall {r['wall']:.0f}s, {r['attempts']} run(s) of the test binary")
    ratio = f" ({(v_both / s_both - 1) * 100:+.1f}%)" if s_both else ""
    out.append(f"summed time of the {len(both)} tests passing with both: stock {s_both:.1f}s, "
               f"verified {v_both:.1f}s{ratio}")
    if gained:
        out.append(f"passing through verified-frontend only: {', '.join(short(n) for n in gained)}")
    env = [n for n in names if st.get(n, missing)["result"] != "pass"]
    if env:
        out.append("")
        out.append("not passing with the stock image either (the environment):")
        for n in env:
            s = st.get(n, missing)
            out.append(f"  {short(n)}: {s['result']}: {s['reason'] or '(no message)'}")
    if regressions:
        out.append("")
        out.append("passing with the stock image, not through verified-frontend:")
        for n in regressions:
            v = vt.get(n, missing)
            out.append(f"  {short(n)}: {v['result']}: {v['reason'] or '(no message)'}")
    known = known_regressions()
    unlisted = [n for n in regressions if short(n) not in known]
    listed = [n for n in regressions if short(n) in known]
    if listed:
        out.append("")
        out.append("of those, listed in known-regressions.txt (open work, not failing the run):")
        for n in listed:
            out.append(f"  {short(n)}: {known[short(n)]}")
    stale = sorted(k for k in known if k not in {short(n) for n in regressions})
    if stale:
        out.append(f"listed as known regressions but not regressing (remove them): {', '.join(stale)}")
    out.append("")
    out.append(f"parity: {len(both)} of {m}")

    text = "\n".join(out) + "\n"
    with open(sys.argv[3], "w") as f:
        f.write(text)
    sys.stdout.write(text)
    if m == 0:
        sys.exit("bk-suite: no test passes with the stock image: the environment is broken")
    sys.exit(1 if unlisted else 0)


def known_regressions():
    """`known-regressions.txt` beside this script: `<test name>  # why`, one a line. Each is a
    test that passes with the stock image and not through verified-frontend yet: printed in
    every report, and the only ones that do not fail the run."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "known-regressions.txt")
    known = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                name, _, why = line.partition("#")
                if name.strip():
                    known[name.strip()] = why.strip() or "(no reason given)"
    return known


if __name__ == "__main__":
    main()
