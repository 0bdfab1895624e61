#!/usr/bin/env bash
# Parity with BuildKit's own Dockerfile frontend: runs BuildKit's Dockerfile integration suite
# (frontend/dockerfile in the BuildKit Go module, OCI worker) once through the stock Dockerfile
# frontend image and once through verified-frontend, both as gateway images
# (FRONTEND_GATEWAY_ONLY), and compares them test by test. Offline: the suite's base images
# are stand-ins made from Debian's busybox-static in a pre-filled mirror.
#
#   bash bench/bk-suite.sh                        # the whole suite, both frontends
#   BK_SUITE_RUN='TestCopy|TestAdd' bash bench/bk-suite.sh   # test functions matching a regex
#
# Prints `parity: N of M` (M tests pass with the stock image, N of them through
# verified-frontend) and exits 1 when N < M. The report is $BK_SUITE_OUT/report.txt; the
# output of every test that did not pass is under $BK_SUITE_OUT/{stock,verified}/logs/.
#
#   BK_SUITE_RUN      regex for the test function names (one level: no `/`); default all
#   BK_SUITE_TIMEOUT  seconds one run of the test binary may take (default 1800)
#   BK_SUITE_OUT      where binaries, images and results go (default $VF_RIG/bk-suite)
#   BK_SUITE_LOCK     a lock file to hold while building and pushing the frontend image on the
#                     shared rig (e.g. /tmp/vf-e2e.lock); the suite itself runs its own daemons
#   BK_SUITE_REUSE_STOCK=1  keep the last stock results if they were made with the same BK_SUITE_RUN
#
# Needs root (the OCI worker), runc, docker-registry, busybox-static, git and ssh-agent: the
# rig's Debian packages (scripts/setup.sh), and the rig's buildkitd/buildctl.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

here=$VF_ROOT/bench/bk-suite
out=${BK_SUITE_OUT:-$VF_RIG/bk-suite}
run=${BK_SUITE_RUN:-.*}
timeout=${BK_SUITE_TIMEOUT:-1800}
target=x86_64-unknown-linux-gnu

[ "$(id -u)" = 0 ] || die "bk-suite: the suite's OCI worker needs root"
case $run in */*) die "bk-suite: BK_SUITE_RUN='$run' names test functions and must not contain '/'" ;; esac
mkdir -p "$out"

tools_ready() {
  for c in runc docker-registry busybox git ssh-agent python3 go jq buildkitd buildctl; do
    command -v "$c" >/dev/null || return 1
  done
}
tools_ready || bash "$VF_ROOT/scripts/setup.sh"
tools_ready || die "bk-suite: a tool is still missing after scripts/setup.sh (runc docker-registry busybox git ssh-agent python3 go jq)"

# The suite's test binary, built from the module the rig already uses; nothing of it is kept
# in the repo. Built once: the module version is fixed.
test_binary() {
  [ -x "$out/dockerfile.test" ] && [ -d "$out/src/frontend/dockerfile" ] && return
  log "building BuildKit $BUILDKIT_VERSION's Dockerfile suite (frontend/dockerfile) from the Go module"
  local mod
  mod=$(GOFLAGS=-mod=mod go mod download -json "github.com/moby/buildkit@$BUILDKIT_VERSION" | jq -r .Dir)
  rm -rf "$out/src"
  cp -r "$mod" "$out/src"
  chmod -R u+w "$out/src"
  (cd "$out/src" && GOFLAGS=-mod=mod go test -c -o "$out/dockerfile.test.tmp" ./frontend/dockerfile/)
  mv "$out/dockerfile.test.tmp" "$out/dockerfile.test"
}

# The stand-in base images, rebuilt when their builder or Debian's busybox changes.
mirror() {
  local stamp
  stamp=$(cat "$here/standins.py" /bin/busybox | sha256sum | cut -d' ' -f1)
  [ "$(cat "$out/mirror.stamp" 2>/dev/null)" = "$stamp" ] && [ -d "$out/mirror/data" ] && return
  log "writing the stand-in base images into the mirror"
  rm -rf "$out/mirror" "$out/mirror.tmp"
  python3 "$here/standins.py" "$out/mirror.tmp" >"$out/mirror.log"
  mv "$out/mirror.tmp" "$out/mirror"
  echo "$stamp" >"$out/mirror.stamp"
}

# Both frontends as OCI image tarballs (the suite's `local:` form), built by the rig's
# buildkitd: the stock one from the rig's dockerfile-frontend binary, verified-frontend as
# frontend/build.sh builds it (the top-level Dockerfile's `image` stage around the binary).
images() {
  buildctl debug workers >/dev/null 2>&1 || rig_up
  bash "$VF_ROOT/frontend/build.sh"
  local ctx=$out/ctx
  rm -rf "$ctx" && mkdir -p "$ctx/stock" "$ctx/binary/out" "$ctx/empty"
  cp "$VF_RIG/bin/dockerfile-frontend" "$ctx/stock/"
  cp "$VF_ROOT/target/$target/release/verified-frontend" "$ctx/binary/out/"
  log "exporting the stock Dockerfile frontend image and verified-frontend as OCI tarballs"
  buildctl build --progress quiet --frontend dockerfile.v0 \
    --local context="$ctx/stock" --local dockerfile="$here" --opt filename=stock.Dockerfile \
    --opt platform=linux/amd64 --output "type=oci,dest=$out/stock.tar"
  buildctl build --progress quiet --frontend dockerfile.v0 \
    --local context="$ctx/empty" --local dockerfile="$VF_ROOT" \
    --local binary="$ctx/binary" --opt context:binary=local:binary \
    --opt target=image --opt platform=linux/amd64 --output "type=oci,dest=$out/verified.tar"
  rm -rf "$ctx"
}

locked_images() {
  if [ -z "${BK_SUITE_LOCK:-}" ]; then
    images
    return
  fi
  local fd
  exec {fd}>"$BK_SUITE_LOCK"
  flock "$fd"
  images
  flock -u "$fd"
  exec {fd}>&-
}

suite() { # frontend
  log "running the suite through the $1 image (BK_SUITE_RUN='$run')"
  python3 "$here/run.py" --binary "$out/dockerfile.test" --cwd "$out/src/frontend/dockerfile" \
    --image "$out/$1.tar" --mirror "$out/mirror" --out "$out/$1" --run "$run" --timeout "$timeout"
}

test_binary
mirror
locked_images
if [ "${BK_SUITE_REUSE_STOCK:-0}" = 1 ] && [ -f "$out/stock/results.json" ] &&
  [ "$(jq -r .run "$out/stock/results.json")" = "$run" ]; then
  log "reusing the stock results of $(date -r "$out/stock/results.json")"
else
  suite stock
fi
suite verified
python3 "$here/report.py" "$out/stock/results.json" "$out/verified/results.json" "$out/report.txt"
