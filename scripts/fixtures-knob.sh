#!/usr/bin/env bash
# Images for tests/knob.rs (the single knob, `verified=`), signed with the rig's throwaway
# Sigstore root as docker/github-builder signs a release of github.com/knob/app, in the
# repositories the built-in policy maps to it (127.0.0.1:5000/knob/app) and to another:
#   knob/app:v1.0.0    signed for refs/tags/v1.0.0          (the right repository and tag)
#   knob/app:v1.1.0    signed, but for refs/tags/v1.0.0     (another tag)
#   knob/app:v2.0.0    not signed
#   knob/app:moved     signed for refs/tags/moved, then the tag moved to an unsigned build
#   knob/other:v1.0.0  signed for github.com/knob/app at v1.0.0 (another repository)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$VF_ROOT/scripts/sigkit.sh"

sigkit=$(sigkit_build)
sigstore=$VF_RIG/sigstore
[ -f "$sigstore/trusted_root.json" ] || die "no Sigstore root in $sigstore: run scripts/fixtures.sh first"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ctx"

push_knob() { # repo, tag, label value (each build its own digest)
  printf 'FROM %s/busybox:latest\nLABEL knob.fixture=%s\n' "$VF_REGISTRY" "$3" >"$work/ctx/Dockerfile"
  buildctl build --progress quiet --frontend dockerfile.v0 \
    --local context="$work/ctx" --local dockerfile="$work/ctx" \
    --opt platform=linux/amd64 --opt attest:provenance=mode=max,version=v1 \
    --output "type=image,name=$VF_REGISTRY/$1:$2,push=true,oci-mediatypes=true"
}
sign_knob() { # repo, tag, the git tag the signature names
  local att
  read -r -a att <<<"$(attestation_manifest "$VF_REGISTRY" "$1" "$2" linux/amd64)"
  [ "${#att[@]}" -eq 3 ] || die "no attestation manifest for $1:$2"
  reset_referrers "$VF_REGISTRY" "$1" "${att[0]}"
  "$sigkit" sign --root "$sigstore" --digest "${att[0]}" --timestamp \
    --subject-name "$VF_REGISTRY/$1" \
    --claim sourceRepositoryURI=https://github.com/knob/app \
    --claim "sourceRepositoryRef=refs/tags/$3" --out "$work/sig.json" >/dev/null
  attach_bundle "$VF_REGISTRY" "$1" "${att[0]}" "${att[1]}" "${att[2]}" "$work/sig.json" >/dev/null
}

log "knob fixtures (signed as docker/github-builder signs github.com/knob/app)"
push_knob knob/app v1.0.0 app-v1.0.0
sign_knob knob/app v1.0.0 v1.0.0
push_knob knob/app v1.1.0 app-v1.1.0
sign_knob knob/app v1.1.0 v1.0.0
push_knob knob/app v2.0.0 app-v2.0.0
push_knob knob/app moved app-moved-original
sign_knob knob/app moved moved
push_knob knob/app moved app-moved-replacement
push_knob knob/other v1.0.0 other-v1.0.0
sign_knob knob/other v1.0.0 v1.0.0
