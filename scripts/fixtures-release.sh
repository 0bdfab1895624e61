#!/usr/bin/env bash
# Release-shaped frontend images for tests/release.rs, made after frontend/build.sh: the
# frontend image built again with SLSA provenance and its attestation manifest signed with
# the throwaway Sigstore root as docker/github-builder signs a release of
# github.com/verified-frontend/verified-frontend:
#   verified-frontend:v0.1.0  signed for refs/tags/v0.1.0
#   verified-frontend:v0.2.0  signed, but for refs/tags/v0.1.0 (a tag moved onto a release)
#   verified-frontend:v0.1.1  not signed
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$VF_ROOT/scripts/sigkit.sh"

binary=$VF_ROOT/target/x86_64-unknown-linux-gnu/release/verified-frontend
[ -x "$binary" ] || die "$binary is missing: run frontend/build.sh first"
sigkit=$(sigkit_build)
sigstore=$VF_RIG/sigstore
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/empty"
cp "$binary" "$work/bin/verified-frontend"

push_release() { # tag
  # The top-level Dockerfile's final stage with the locally built binary, as frontend/build.sh.
  mkdir -p "$work/ctx/out"
  cp "$work/bin/verified-frontend" "$work/ctx/out/"
  buildctl build --progress quiet --frontend dockerfile.v0 \
    --local context="$work/empty" --local dockerfile="$VF_ROOT" \
    --local binary="$work/ctx" --opt context:binary=local:binary \
    --opt target=image --opt platform=linux/amd64 \
    --opt attest:provenance=mode=max,version=v1 \
    --output "type=image,name=$VF_REGISTRY/verified-frontend:$1,push=true,oci-mediatypes=true"
}
sign_release() { # tag, the git tag the signature names
  local att
  read -r -a att <<<"$(attestation_manifest "$VF_REGISTRY" verified-frontend "$1" linux/amd64)"
  [ "${#att[@]}" -eq 3 ] || die "no attestation manifest for verified-frontend:$1"
  reset_referrers "$VF_REGISTRY" verified-frontend "${att[0]}"
  "$sigkit" sign --root "$sigstore" --digest "${att[0]}" --timestamp \
    --subject-name "$VF_REGISTRY/verified-frontend" \
    --claim sourceRepositoryURI=https://github.com/verified-frontend/verified-frontend \
    --claim "sourceRepositoryRef=refs/tags/$2" --out "$work/$1.bundle.json" >/dev/null
  attach_bundle "$VF_REGISTRY" verified-frontend "${att[0]}" "${att[1]}" "${att[2]}" \
    "$work/$1.bundle.json" >/dev/null
}

log "release-shaped frontend images (signed as docker/github-builder signs a release)"
push_release v0.1.0
sign_release v0.1.0 v0.1.0
push_release v0.2.0
sign_release v0.2.0 v0.1.0
push_release v0.1.1
