#!/usr/bin/env bash
# Wall time of a verified build vs a plain dockerfile.v0 build of the same examples on a
# warm cache, measured side by side in one run (runs interleaved, order rotating, so machine
# noise hits all), plus the frontend's own time split from its report lines.
#
# Three modes per example:
#   plain     dockerfile.v0, run inside buildkitd (no frontend container)
#   gateway   BuildKit's own Dockerfile frontend run as a gateway image, as `# syntax=` users
#             of docker/dockerfile get: the cost of starting any frontend container
#   verified  `# syntax=` -> verified-frontend -> dockerfile.v0 -> resolve, pin, re-solve
#
#   bash bench/overhead.sh            # starts the rig if it is not up
#   N=20 bash bench/overhead.sh       # more runs per example
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

N=${N:-10}
EXAMPLES=${EXAMPLES:-"multistage add-http add-git run-mount build-args multi-platform quickstart"}

buildctl debug workers >/dev/null 2>&1 || rig_up

build() { # mode example
  local dir=$VF_ROOT/testdata/examples/$2 extra=(--frontend dockerfile.v0)
  # `cmdline` set: the Dockerfile frontend does not follow the `# syntax=` line.
  [ "$1" = plain ] && extra+=(--opt cmdline=plain)
  [ "$1" = gateway ] && extra=(--frontend gateway.v0 --opt "source=$VF_REGISTRY/dockerfile:local" --opt cmdline=plain)
  [ "$2" = multi-platform ] && extra+=(--opt platform=linux/amd64,linux/arm64)
  buildctl build --progress quiet \
    --local context="$dir" --local dockerfile="$dir" "${extra[@]}" >/dev/null
}

timed() { # mode example -> seconds
  local t0 t1
  t0=$(date +%s.%N); build "$1" "$2"; t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}

median() { python3 -c 'import statistics, sys; print(statistics.median(float(l) for l in sys.stdin))'; }

log_start=$(stat -c %s "$VF_RIG/run/buildkitd.log")
modes="plain gateway verified"
printf '%-16s %9s %10s %11s %15s %17s\n' example plain_ms gateway_ms verified_ms verified/plain verified/gateway
declare -A total=([plain]=0 [gateway]=0 [verified]=0)
for ex in $EXAMPLES; do
  for mode in $modes; do build "$mode" "$ex"; : >"$VF_RIG/run/bench.$mode"; done # warm the cache
  for i in $(seq 1 "$N"); do
    case $((i % 3)) in
      0) order="plain gateway verified" ;;
      1) order="verified plain gateway" ;;
      2) order="gateway verified plain" ;;
    esac
    for mode in $order; do timed "$mode" "$ex" >>"$VF_RIG/run/bench.$mode"; done
  done
  declare -A med=()
  for mode in $modes; do
    med[$mode]=$(median <"$VF_RIG/run/bench.$mode")
    total[$mode]=$(echo "${total[$mode]} + ${med[$mode]}" | bc -l)
  done
  printf '%-16s %9.1f %10.1f %11.1f %15.3f %17.3f\n' "$ex" \
    "$(echo "${med[plain]}*1000" | bc -l)" "$(echo "${med[gateway]}*1000" | bc -l)" "$(echo "${med[verified]}*1000" | bc -l)" \
    "$(echo "${med[verified]}/${med[plain]}" | bc -l)" "$(echo "${med[verified]}/${med[gateway]}" | bc -l)"
done
printf '%-16s %9.1f %10.1f %11.1f %15.3f %17.3f\n' "all (sum)" \
  "$(echo "${total[plain]}*1000" | bc -l)" "$(echo "${total[gateway]}*1000" | bc -l)" "$(echo "${total[verified]}*1000" | bc -l)" \
  "$(echo "${total[verified]}/${total[plain]}" | bc -l)" "$(echo "${total[verified]}/${total[gateway]}" | bc -l)"

echo
echo "frontend time split, median over all verified runs (ms):"
tail -c +"$((log_start + 1))" "$VF_RIG/run/buildkitd.log" | sed -n 's/^verified-frontend: report //p' \
  | python3 -c '
import json, statistics, sys
runs = [json.loads(l)["timings"] for l in sys.stdin if l.strip()]
# Stage times only; `calls` (the per-call breakdown) is bench/perf.sh's to read.
for k in [k for k, v in runs[0].items() if isinstance(v, (int, float))]:
    print("  %-15s %8.3f" % (k, statistics.median(r[k] for r in runs)))
print("  (%d runs)" % len(runs))'
