"""The markdown of bench/perf.sh: the issue #16 table per workload (medians, ratios) and,
for one size per workload, the frontend's time by stage and by gateway call kind."""

import workloads

# The column run.py adds for BENCH_BASELINE_IMAGE.
BASELINE = "verified-baseline"
# verified / each of these.
RATIOS = [("plain-gateway", "verified/plain-gw"), ("buildx-builtin", "verified/bx-builtin"),
          ("buildx-gateway", "verified/bx-gw")]


def median(values):
    values = sorted(values)
    n = len(values)
    if n == 0:
        return None
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def seconds(v):
    return "fail" if v is None else f"{v:.3f} s"


def ratio(a, b):
    return "–" if a is None or b is None or b == 0 else f"{a / b:.2f}"


def ratios(columns):
    """The ratios taken, with the baseline image's against the same columns when measured."""
    out = [("verified", k, h) for k, h in RATIOS]
    if any(k == BASELINE for k, _ in columns):
        out += [(BASELINE, k, h.replace("verified/", "baseline/")) for k, h in RATIOS]
        out.append(("verified", BASELINE, "verified/baseline"))
    return out


def cell_row(cell, columns):
    meds = {k: median(cell["times"][k]) for k, _ in columns}
    cols = [seconds(meds[k]) for k, _ in columns]
    cols += [ratio(meds[a], meds[b]) for a, b, _ in ratios(columns)]
    return f"| {cell['n']} | " + " | ".join(cols) + " |"


def workload_table(cells, columns):
    rs = ratios(columns)
    head = "| N sources | " + " | ".join(h for _, h in columns)
    head += " | " + " | ".join(h for _, _, h in rs) + " |"
    sep = "|---" * (1 + len(columns) + len(rs)) + "|"
    lines = [head, sep] + [cell_row(c, columns) for c in cells]
    for c in cells:
        for k, err in sorted(c["errors"].items()):
            lines.append(f"\n- N={c['n']} {k}: {err}")
    return lines


# The report's stages in the order a build runs them; others follow.
STAGES = ["start_ms", "policy_load_ms", "subsolve_ms", "resolve_ms", "evaluate_ms", "rewrite_ms", "solve_ms"]


def stage_rank(key):
    return STAGES.index(key) if key in STAGES else len(STAGES)


def breakdown_lines(cell):
    b = cell.get("breakdown")
    if not b:
        return [f"No call timings in the reports of N={cell['n']} (a frontend image older than the instrumentation?)."]
    ordered = sorted(b["stages"].items(), key=lambda kv: stage_rank(kv[0]))
    stages = ", ".join(f"{k.removesuffix('_ms')} {v:.1f}" for k, v in ordered)
    lines = [
        f"Frontend at N={cell['n']} (medians of {b['runs']} verified builds, ms): {stages} "
        "(policy_load beside the first subsolve when the builtin Dockerfile frontend reads only "
        "the client's directories).",
        f"Gateway calls until the report: {b['elapsed_ms']:.1f} ms since the connection, "
        f"{b['busy_ms']:.1f} ms with a call in flight.",
        "",
        "| call | count | total ms | median ms | max ms | in flight ms | reused |",
        "|---|---|---|---|---|---|---|",
    ]
    kinds = sorted(b["kinds"].items(), key=lambda kv: -kv[1]["busy_ms"])
    for name, k in kinds:
        lines.append(f"| {name} | {k['count']:.0f} | {k['total_ms']:.1f} | {k['median_ms']:.2f} "
                     f"| {k['max_ms']:.1f} | {k['busy_ms']:.1f} | {k.get('reused', 0):.0f} |")
    a = b.get("after_report")
    if a:
        later = ", ".join(f"{n} ×{k['count']:.0f} {k['total_ms']:.1f} ms" for n, k in a["kinds"].items())
        lines += ["", f"After the report (attestations, Return): the run ends {a['elapsed_ms']:.1f} ms "
                  f"after the connection; calls then: {later or 'none'}."]
    s = b["sources"]
    lines += ["", f"Per source (tag and pinned reference together): {s['sources']:.0f} sources with calls, "
              f"median {s['median_calls']:.0f} calls and {s['median_ms']:.1f} ms each, "
              f"the costliest {s['max_ms']:.1f} ms, {s['total_ms']:.1f} ms summed."]
    return lines


def breakdown_cell(cells, want):
    """The cell at size `want`, else the largest one measured."""
    exact = [c for c in cells if c["n"] == want]
    return exact[0] if exact else max(cells, key=lambda c: c["n"])


def render(results):
    columns = results["columns"]
    out = [
        "# verified-frontend: cost of verification (issue #16)",
        "",
        f"Whole `buildx build` wall time, warm cache, medians of {results['rounds']} interleaved rounds; "
        "nothing exported (`--output type=cacheonly`). Gateway columns run the stock Dockerfile frontend "
        f"`{results['stock_image']}`; verified-frontend is `{results['verified_image']}`, both by `BUILDKIT_SYNTAX`.",
    ]
    if results.get("baseline_image"):
        out[-1] += f" The baseline column runs `{results['baseline_image']}` the same way."
    by_workload = {}
    for c in results["cells"]:
        by_workload.setdefault(c["workload"], []).append(c)
    for w, cells in by_workload.items():
        out += ["", f"## {w}: {workloads.DESCRIPTIONS[w]}", ""]
        out += workload_table(cells, columns)
        out += [""] + breakdown_lines(breakdown_cell(cells, results["breakdown_n"]))
    return "\n".join(out) + "\n"
