"""The frontend's own account of a cell's verified builds, from the `timings` of its report
lines: stage times, every gateway call kind (count, summed time, median call, wall time
with one in flight) and the calls per source, each the median over the cell's runs."""

import re
import statistics

# `reused`: requests the frontend answered from an earlier call of the build.
CALL_FIELDS = ("count", "total_ms", "median_ms", "max_ms", "busy_ms", "reused")
# A pinned `name:tag@sha256:…` is resolved apart from `name:tag`; both are the one source.
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}")


def median(values):
    values = list(values)
    return statistics.median(values) if values else 0.0


def source_stats(sources):
    """Per build: how many sources had calls, and the median and largest calls and time
    one of them cost."""
    grouped = {}
    for key, s in sources.items():
        g = grouped.setdefault(DIGEST.sub("", key), {"count": 0, "total_ms": 0.0})
        g["count"] += s["count"]
        g["total_ms"] += s["total_ms"]
    values = list(grouped.values())
    return {
        "sources": len(values),
        "median_calls": median(v["count"] for v in values),
        "median_ms": median(v["total_ms"] for v in values),
        "max_ms": max((v["total_ms"] for v in values), default=0.0),
        "total_ms": sum(v["total_ms"] for v in values),
    }


def after_report(runs):
    """From the calls line written at Return: how long the whole run took and which calls
    came after the report (the attestations' solves, Return)."""
    finals = [(r["timings"]["calls"], r["final"]) for r in runs if "kinds" in r.get("final", {})]
    if not finals:
        return None
    names = sorted({k for _, f in finals for k in f["kinds"]})
    later = {}
    for name in names:
        diff = [(f["kinds"].get(name, {}).get("count", 0) - c["kinds"].get(name, {}).get("count", 0),
                 f["kinds"].get(name, {}).get("total_ms", 0) - c["kinds"].get(name, {}).get("total_ms", 0))
                for c, f in finals]
        if any(n for n, _ in diff):
            later[name] = {"count": median(n for n, _ in diff), "total_ms": median(t for _, t in diff)}
    return {"elapsed_ms": median(f["elapsed_ms"] for _, f in finals), "kinds": later}


def summarize(reports):
    full = [r for r in reports if "calls" in r.get("timings", {})]
    runs = [r["timings"] for r in full]
    if not runs:
        return None
    stages = {
        k: median(r[k] for r in runs)
        for k, v in runs[0].items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    names = sorted({k for r in runs for k in r["calls"]["kinds"]})
    kinds = {}
    for name in names:
        per_run = [r["calls"]["kinds"].get(name, {}) for r in runs]
        kinds[name] = {f: median(p.get(f, 0) for p in per_run) for f in CALL_FIELDS}
    per_source = [source_stats(r["calls"].get("sources", {})) for r in runs]
    return {
        "runs": len(runs),
        "stages": stages,
        "elapsed_ms": median(r["calls"]["elapsed_ms"] for r in runs),
        "busy_ms": median(r["calls"]["busy_ms"] for r in runs),
        "kinds": kinds,
        "sources": {k: median(s[k] for s in per_source) for k in per_source[0]},
        "after_report": after_report(full),
    }
