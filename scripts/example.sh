#!/usr/bin/env bash
# The quick start, end to end on a fresh machine: installs and starts the rig, pushes the
# frontend image, then builds testdata/examples/verified through
# `# syntax=127.0.0.1:5000/verified-frontend` with its Dockerfile.rego: every source is
# decided and pinned (one line each), a variant with an unreviewed base image is denied (the
# message as a user sees it), and `verified-frontend verify` checks the pushed image.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rig_up

example=$VF_ROOT/testdata/examples/verified
image=$VF_REGISTRY/examples/verified:latest
verify=$VF_ROOT/target/x86_64-unknown-linux-gnu/release/verified-frontend

log "1. a verified build of $example (policy: Dockerfile.rego beside it)"
log_start=$(stat -c %s "$VF_RIG/run/buildkitd.log")
buildctl build --progress plain --frontend dockerfile.v0 \
  --local context="$example" --local dockerfile="$example" \
  --opt attest:provenance=mode=max \
  --output "type=image,name=$image,push=true,oci-mediatypes=true" 2>&1 \
  | grep -E '^#[0-9]+ \[verified-frontend\]|^#[0-9]+ (DONE|ERROR)|verified|denied' | grep -v '^#[0-9]* DONE' || true

log "   what was decided and pinned"
tail -c +"$((log_start + 1))" "$VF_RIG/run/buildkitd.log" \
  | sed -n 's/^verified-frontend: report //p' | tail -n 1 \
  | jq -r '.sources[] | "\(.decision)\t\(.kind)\t\(.original)\n\t\t-> \(.pinned)\(if .pin_attrs then " " + (.pin_attrs|to_entries|map("\(.key)=\(.value)")|join(" ")) else "" end)"'

log "2. the same build with an unreviewed base image (unreviewed.Dockerfile): denied"
if buildctl build --progress plain --frontend dockerfile.v0 \
  --local context="$example" --local dockerfile="$example" \
  --opt filename=unreviewed.Dockerfile --opt policy=Dockerfile.rego >"$VF_RIG/run/example-denied.log" 2>&1; then
  die "the unreviewed base image was allowed"
fi
tail -n 1 "$VF_RIG/run/example-denied.log"

log "3. a consumer checks the pushed image: verified-frontend verify --policy Dockerfile.rego $image"
"$verify" verify --policy "$example/Dockerfile.rego" "$image"
log "done: $image was built from verified sources only"
