#!/usr/bin/env bash
# What verification costs (issue #16): whole `buildx build` wall time of one Dockerfile in
# five ways, side by side on the rig's buildkitd, warm cache, interleaved rounds, medians:
#
#   plain, builtin frontend          --policy disabled=true (dockerfile.v0 inside buildkitd)
#   plain, gateway Dockerfile image  the same through the stock Dockerfile frontend image
#                                    (BUILDKIT_SYNTAX=<registry>/dockerfile:local@<digest>)
#   Buildx policy, builtin           Buildx evaluates Dockerfile.rego client side
#   Buildx policy, gateway image     the same with the stock gateway image
#   verified-frontend                --policy disabled=true, BUILDKIT_SYNTAX=<verified-frontend>
#
# The Dockerfile is `FROM perf/busybox:base` plus N sources of one kind (workloads: image,
# git, http, signed; see bench/perf/workloads.py), the policy reads what the issue's does.
# Past 100 sources they go into stages of 100 that the last stage copies (BuildKit cannot
# mount 500 layers: "mount options is too long").
# Nothing is exported (--output type=cacheonly), so export time does not dominate. Each
# cell (workload, N) builds every column once unmeasured, then BENCH_ROUNDS rounds, each
# building every column once in an order rotated per round. Beside each workload's table:
# the frontend's own time by stage and by gateway call (its report's `timings.calls`, and
# the `verified-frontend: calls` line it logs at Return for what came after the report).
# Output: stdout and target/bench/perf.md (raw times and reports: target/bench/perf.json).
#
#   bash bench/perf.sh                          # every workload and size, 7 rounds
#   BENCH_QUICK=1 bash bench/perf.sh            # 3 rounds, N=1,20 only
#   BENCH_ROUNDS=5 BENCH_N=1,20,100 BENCH_LOCK=/tmp/vf-e2e.lock bash bench/perf.sh
#
#   BENCH_ROUNDS     rounds per cell (default 7; 3 with BENCH_QUICK=1)
#   BENCH_N          sizes, comma-separated (default 1,20,100,500; git and http run at
#                    20 and 100 only, signed at 1, 20 and 100, whichever BENCH_N keeps)
#   BENCH_WORKLOADS  default "image git http signed"
#   BENCH_LOCK       a lock file held during each cell, its fixture check included (e.g.
#                    /tmp/vf-e2e.lock on a shared rig); do not also wrap the script in flock
#                    on the same file
#   BENCH_OUT        where perf.md, perf.json and the build contexts go (default target/bench)
#   BENCH_HTTP_PORT  where the http workload's own server listens (default 8779; the rig's
#                    http server drops connections at 100 concurrent fetches)
#   BENCH_BREAKDOWN_N  the size whose per-call breakdown is printed (default 100, else the
#                    largest measured)
#   BENCH_BASELINE_IMAGE  another verified-frontend image (e.g. the one before a change,
#                    by digest) measured as a sixth column in the same interleaved rounds,
#                    with its ratios and verified/baseline
#
# Measures the verified-frontend image the registry has now (pinned by digest for the whole
# run; BENCH_VERIFIED_IMAGE=<ref> names another, BENCH_STOCK_IMAGE the stock one): run
# frontend/build.sh first to measure the work tree. Needs the rig up (scripts/rig.sh
# or the tests' rig) and its fixtures (scripts/fixtures.sh); it adds its own
# (bench/perf/fixtures.sh, checked before each cell).
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

here=$VF_ROOT/bench/perf
out=${BENCH_OUT:-$VF_ROOT/target/bench}
export BENCH_ROUNDS=${BENCH_ROUNDS:-7} BENCH_N=${BENCH_N:-1,20,100,500}
if [ "${BENCH_QUICK:-}" = 1 ]; then
  BENCH_ROUNDS=3 BENCH_N=1,20
fi
export BENCH_WORKLOADS=${BENCH_WORKLOADS:-image git http signed}
export BENCH_LOCK=${BENCH_LOCK:-} BENCH_BREAKDOWN_N=${BENCH_BREAKDOWN_N:-100}
export BENCH_OUT=$out BENCH_BUILDX_CONFIG=$VF_RIG/bench-perf/buildx
export BENCH_DAEMON_LOG=$VF_RIG/run/buildkitd.log BENCH_SIGSTORE=$VF_RIG/sigstore
case $BENCH_ROUNDS in '' | *[!0-9]* | 0) die "bench: BENCH_ROUNDS=$BENCH_ROUNDS is not a positive number" ;; esac
case $BENCH_N in *[!0-9,\ ]* | '') die "bench: BENCH_N=$BENCH_N is not a list of sizes (e.g. 1,20,100)" ;; esac

buildctl debug workers >/dev/null 2>&1 || die "bench: buildkitd at $BUILDKIT_HOST does not answer; start the rig"
[ -f "$BENCH_SIGSTORE/trusted_root.json" ] || die "bench: no $BENCH_SIGSTORE/trusted_root.json: run scripts/fixtures.sh"
mkdir -p "$out" "$BENCH_BUILDX_CONFIG"

# Both frontend images by digest, so every round runs the same image even if someone pushes.
digest_of() { # repo tag
  local accept=application/vnd.oci.image.index.v1+json,application/vnd.oci.image.manifest.v1+json
  accept+=,application/vnd.docker.distribution.manifest.v2+json
  curl -fsS -o /dev/null -I -H "Accept: $accept" -w '%header{docker-content-digest}' \
    "http://$VF_REGISTRY/v2/$1/manifests/$2" || die "bench: no $VF_REGISTRY/$1:$2 in the registry"
}

export BENCH_STOCK_IMAGE=${BENCH_STOCK_IMAGE:-$VF_REGISTRY/dockerfile@$(digest_of dockerfile local)}
export BENCH_VERIFIED_IMAGE=${BENCH_VERIFIED_IMAGE:-$VF_REGISTRY/verified-frontend@$(digest_of verified-frontend latest)}
export BENCH_BASELINE_IMAGE=${BENCH_BASELINE_IMAGE:-}

# A remote-driver builder in the bench's own Buildx configuration: nothing global changes.
BUILDX_CONFIG=$BENCH_BUILDX_CONFIG buildx inspect vf-perf >/dev/null 2>&1 ||
  BUILDX_CONFIG=$BENCH_BUILDX_CONFIG buildx create --name vf-perf --driver remote "$BUILDKIT_HOST" >/dev/null

# The http workload's server (see bench/perf/serve.py), for this run only.
export BENCH_HTTP_PORT=${BENCH_HTTP_PORT:-8779}
case " $BENCH_WORKLOADS " in *" http "*)
  python3 "$here/serve.py" "$BENCH_HTTP_PORT" "$VF_RIG/http" &
  server=$!
  trap 'kill "$server" 2>/dev/null' EXIT
  for _ in $(seq 1 50); do curl -fsS -o /dev/null "http://127.0.0.1:$BENCH_HTTP_PORT/" 2>/dev/null && break; sleep 0.1; done
  curl -fsS -o /dev/null "http://127.0.0.1:$BENCH_HTTP_PORT/" || die "bench: the http server on :$BENCH_HTTP_PORT did not come up"
  ;;
esac

python3 "$here/run.py"
