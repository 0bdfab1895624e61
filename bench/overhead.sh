#!/usr/bin/env bash
# Wall time of a verified build vs a plain dockerfile.v0 build of the same examples on a
# warm cache, measured side by side in one run (runs interleaved, order alternating, so
# machine noise hits both), plus the frontend's own time split from its report lines.
#
#   bash bench/overhead.sh            # starts the rig if it is not up
#   N=20 bash bench/overhead.sh       # more runs per example
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

N=${N:-10}
EXAMPLES=${EXAMPLES:-"multistage add-http add-git run-mount build-args multi-platform quickstart"}

if ! buildctl debug workers >/dev/null 2>&1; then
  bash "$VF_ROOT/scripts/setup.sh"
  bash "$VF_ROOT/scripts/rig.sh" start
  trap 'bash "$VF_ROOT/scripts/rig.sh" stop' EXIT
  bash "$VF_ROOT/scripts/fixtures.sh"
  bash "$VF_ROOT/frontend/build.sh"
fi

build() { # mode example
  local dir=$VF_ROOT/testdata/examples/$2 extra=()
  [ "$1" = plain ] && extra+=(--opt cmdline=plain)
  [ "$2" = multi-platform ] && extra+=(--opt platform=linux/amd64,linux/arm64)
  buildctl build --progress quiet --frontend dockerfile.v0 \
    --local context="$dir" --local dockerfile="$dir" "${extra[@]}" >/dev/null
}

timed() { # mode example -> seconds
  local t0 t1
  t0=$(date +%s.%N); build "$1" "$2"; t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}

median() { python3 -c 'import statistics, sys; print(statistics.median(float(l) for l in sys.stdin))'; }

log_start=$(stat -c %s "$VF_RIG/run/buildkitd.log")
printf '%-16s %10s %10s %8s\n' example plain_ms verified_ms ratio
all_plain=0 all_verified=0
for ex in $EXAMPLES; do
  build plain "$ex"; build verified "$ex" # warm the cache
  : >"$VF_RIG/run/bench.plain"; : >"$VF_RIG/run/bench.verified"
  for i in $(seq 1 "$N"); do
    if [ $((i % 2)) -eq 0 ]; then order="plain verified"; else order="verified plain"; fi
    for mode in $order; do timed "$mode" "$ex" >>"$VF_RIG/run/bench.$mode"; done
  done
  p=$(median <"$VF_RIG/run/bench.plain"); v=$(median <"$VF_RIG/run/bench.verified")
  all_plain=$(echo "$all_plain + $p" | bc -l); all_verified=$(echo "$all_verified + $v" | bc -l)
  printf '%-16s %10.1f %10.1f %8.3f\n' "$ex" "$(echo "$p*1000" | bc -l)" "$(echo "$v*1000" | bc -l)" "$(echo "$v/$p" | bc -l)"
done
printf '%-16s %10.1f %10.1f %8.3f\n' "all (sum)" "$(echo "$all_plain*1000" | bc -l)" \
  "$(echo "$all_verified*1000" | bc -l)" "$(echo "$all_verified/$all_plain" | bc -l)"

echo
echo "frontend time split, median over all verified runs (ms):"
tail -c +"$((log_start + 1))" "$VF_RIG/run/buildkitd.log" | sed -n 's/^verified-frontend: report //p' \
  | python3 -c '
import json, statistics, sys
runs = [json.loads(l)["timings"] for l in sys.stdin if l.strip()]
for k in ["start_ms", "subsolve_ms", "resolve_ms", "rewrite_ms", "solve_ms"]:
    print("  %-12s %8.3f" % (k, statistics.median(r[k] for r in runs)))
print("  (%d runs)" % len(runs))'
