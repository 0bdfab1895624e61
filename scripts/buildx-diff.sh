#!/usr/bin/env bash
# The differential run against Buildx (tests/buildx_diff.rs, tests/buildx-diff/README.md):
# input documents and decisions, every case. The frontend image is first copied to the tag
# `diff` and the cases name that tag, so that a frontend/build.sh run meanwhile (which
# replaces `latest`) cannot change the frontend halfway through a run.
# Usage: scripts/buildx-diff.sh [cargo test args...]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

repo=${VF_FRONTEND_IMAGE%:*}
name=${repo#"$VF_REGISTRY"/}
accept=application/vnd.oci.image.index.v1+json,application/vnd.oci.image.manifest.v1+json
accept=$accept,application/vnd.docker.distribution.manifest.list.v2+json,application/vnd.docker.distribution.manifest.v2+json
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl -fsS -H "Accept: $accept" -D "$tmp/headers" -o "$tmp/manifest" \
  "http://$VF_REGISTRY/v2/$name/manifests/${VF_FRONTEND_IMAGE##*:}" ||
  die "cannot read $VF_FRONTEND_IMAGE (frontend/build.sh pushes it)"
type=$(tr -d '\r' <"$tmp/headers" | sed -n 's/^[Cc]ontent-[Tt]ype: *//p' | head -n1)
curl -fsS -X PUT -H "Content-Type: $type" --data-binary "@$tmp/manifest" \
  "http://$VF_REGISTRY/v2/$name/manifests/diff" >/dev/null ||
  die "cannot tag $repo:diff"
log "buildx diff against $repo:diff ($(sha256sum <"$tmp/manifest" | cut -c1-19))"
cd "$VF_ROOT"
VF_DIFF_FRONTEND_TAG=diff VF_DIFF_LOCK=${VF_DIFF_LOCK:-} \
  cargo test --locked --test buildx_diff "$@"
