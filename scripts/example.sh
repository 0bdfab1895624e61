#!/usr/bin/env bash
# A verified build of testdata/examples/quickstart, end to end on a fresh machine: installs
# and starts the rig, pushes the frontend image, builds the example through
# `# syntax=127.0.0.1:5000/verified-frontend`, and prints what the frontend pinned.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rig_up

example=$VF_ROOT/testdata/examples/quickstart
log "verified build of $example"
log_start=$(stat -c %s "$VF_RIG/run/buildkitd.log")
buildctl build --progress plain --frontend dockerfile.v0 \
  --local context="$example" --local dockerfile="$example" \
  --opt attest:provenance=mode=max \
  --output "type=image,name=$VF_REGISTRY/examples/quickstart:latest,push=true,oci-mediatypes=true"

log "what the verified frontend resolved and pinned"
tail -c +"$((log_start + 1))" "$VF_RIG/run/buildkitd.log" \
  | sed -n 's/^verified-frontend: report //p' | tail -n 1 \
  | jq -r '.sources[] | "\(.kind)\t\(.original)\n\t-> \(.pinned)\(if .pin_attrs then " " + (.pin_attrs|to_entries|map("\(.key)=\(.value)")|join(" ")) else "" end)"'
log "pushed $VF_REGISTRY/examples/quickstart:latest"
