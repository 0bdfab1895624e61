#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs and starts the rig, builds and pushes
# the frontend image, then runs lints, unit tests and end-to-end builds.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bash "$VF_ROOT/scripts/setup.sh"
bash "$VF_ROOT/scripts/rig.sh" start
trap 'bash "$VF_ROOT/scripts/rig.sh" stop' EXIT
bash "$VF_ROOT/scripts/fixtures.sh"
bash "$VF_ROOT/frontend/build.sh"

cd "$VF_ROOT"
log "cargo fmt --check && cargo clippy"
cargo fmt --check
cargo clippy --locked --all-targets --quiet -- -D warnings
log "cargo test"
cargo test --locked
