#!/usr/bin/env bash
# Runs every fuzz target for a bounded time, one after the other, on one core each:
#   bash fuzz/run.sh [seconds-per-target] [target…]
# Default 20 s per target, every target. Seeds the corpora first (fuzz/seed.sh), builds all
# targets once (cargo-fuzz on the nightly toolchain, libFuzzer, debug assertions on, no
# sanitizer: the code under test is safe Rust, and a panic or failed assertion is the
# finding), then prints each target's executions. Exits 1 when a target crashes, panics,
# hangs (an input over 10 s, 30 s in a dev build) or runs out of memory; the input that did
# it is in fuzz/artifacts/<target>/, and `cargo +nightly fuzz run -s none <target> <file>`
# replays it (or the built binary, given the file).
#
# The build is large (the whole frontend with coverage instrumentation): it goes to
# $VF_FUZZ_TARGET_DIR (default ~/.cache/verified-frontend/fuzz-target), outside the clone,
# so later runs and clones on the same machine reuse it.
#
# VF_FUZZ_PROFILE=dev (what CI uses, scripts/test.sh) builds the dev profile at opt-level 1
# without debug info: a cold build then costs about half the CPU of a release one and each
# input runs about twice as slow, which a bounded smoke run can afford (opt-level 0 halves
# the build again but runs 10 to 30 times fewer inputs; fuzz/README.md, CI). The default,
# release, is for long runs.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
seconds=${1:-20}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(definition chain provenance git_object image_ref policy_input policy_load layout)
fi
target_dir=${VF_FUZZ_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/verified-frontend/fuzz-target}

die() { printf 'fuzz/run.sh: %s\n' "$*" >&2; exit 2; }
rustup run nightly rustc --version >/dev/null 2>&1 ||
  die "the nightly toolchain is missing (libFuzzer's instrumentation needs it)"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz/run.sh: installing cargo-fuzz" >&2
  cargo install --locked cargo-fuzz >&2 || die "cannot install cargo-fuzz"
fi

bash "$here/seed.sh" >/dev/null
cd "$here"
fuzz=(cargo +nightly fuzz)
opts=(--sanitizer none --target-dir "$target_dir")
profile_dir=release
# Seconds one input may take before it counts as a hang.
hang=10
case ${VF_FUZZ_PROFILE:-release} in
  release) ;;
  dev)
    opts+=(--dev)
    profile_dir=debug
    # Less optimized code runs slower; an endless input still ends past this.
    hang=30
    export CARGO_PROFILE_DEV_OPT_LEVEL=1
    # Debug info is much of a dev build's time and size; a panic's message names its line
    # without it.
    export CARGO_PROFILE_DEV_DEBUG=0
    # A dev profile is incremental by default; its saved state for the instrumented build is
    # gigabytes of disk that a smoke run never reads again (CI once ran out of space here).
    export CARGO_INCREMENTAL=0
    ;;
  *) die "VF_FUZZ_PROFILE must be release or dev, not ${VF_FUZZ_PROFILE}" ;;
esac
built=$(date +%s)
"${fuzz[@]}" build "${opts[@]}" >&2
echo "fuzz: built the targets (${VF_FUZZ_PROFILE:-release}) in $(($(date +%s) - built)) s" >&2
# The binaries are run as built: `cargo fuzz run` would rebuild first, against whatever the
# tree holds by then.
bin=$target_dir/$(rustc +nightly -vV | sed -n 's/^host: //p')/$profile_dir

logs=$target_dir/run-logs
mkdir -p "$logs"
failed=()
printf '%-13s %12s %8s  %s\n' TARGET EXECUTIONS SECONDS RESULT
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  rc=0
  "$bin/$t" "corpus/$t" -max_total_time="$seconds" -timeout="$hang" -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="artifacts/$t/" >"$logs/$t.log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -n 1)
  if [ "$rc" -eq 0 ]; then
    result=ok
  else
    result="FAILED (exit $rc; log $logs/$t.log)"
    failed+=("$t")
    grep -E '^(==[0-9]+==|thread .* panicked|SUMMARY|artifact_prefix|Test unit written)' \
      "$logs/$t.log" | head -n 8 >&2 || true
  fi
  printf '%-13s %12s %8s  %s\n' "$t" "${execs:-?}" "$seconds" "$result"
done
echo "fuzz: $((${#targets[@]} - ${#failed[@]})) passed, ${#failed[@]} failed"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz/run.sh: failed: ${failed[*]}" >&2
  exit 1
fi
