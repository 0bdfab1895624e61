#!/usr/bin/env bash
# Images for tests/knob.rs (the single knob, `verified=`), signed with the rig's throwaway
# Sigstore root as docker/github-builder signs a release of github.com/knob/app, in the
# repositories the built-in policy maps to it (127.0.0.1:5000/knob/app) and to another:
#   knob/app:v1.0.0    signed for refs/tags/v1.0.0          (the right repository and tag)
#   knob/app:v1.1.0    signed, but for refs/tags/v1.0.0     (another tag)
#   knob/app:v2.0.0    not signed
#   knob/app:moved     signed for refs/tags/moved, then the tag moved to an unsigned build
#   knob/other:v1.0.0  signed for github.com/knob/app at v1.0.0 (another repository)
# and the download http://127.0.0.1:$VF_HTTP_PORT/hello.txt's SLSA provenance, signed for
# github.com/knob/app, as a Sigstore bundle in $VF_RIG/knob/hello.sigstore.json.
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

# Docker Hardened Image shapes, signed as Docker signs a DHI's attestation but with a
# throwaway key ($VF_RIG/dhi/dhi.pub; tests/knob.rs names it in the build's trusted root):
#   knob/dhi:3.13        DHI-shaped (index title dhi/knob-dhi, build ids), its SLSA
#                        provenance a referrer of the image manifest, signed with the key
#   knob/dhi:build-3.13  the BuildKit image it was made from (not DHI-shaped), its own
#                        attestation manifest signed with the same key
dhi_keys=$VF_RIG/dhi
[ -f "$dhi_keys/dhi.pub" ] || "$sigkit" mint-dhi-key --out "$dhi_keys"
registry_url=http://$VF_REGISTRY

sign_dhi() { # repo, "digest mediaType size" of the signed manifest
  local signed
  read -r -a signed <<<"$2"
  reset_referrers "$VF_REGISTRY" "$1" "${signed[0]}"
  rm -rf "$work/dhi-sig"
  "$sigkit" sign-dhi --root "$sigstore" --key "$dhi_keys/dhi.key.pem" --digest "${signed[0]}" \
    --docker-reference "$VF_REGISTRY/$1" --out-dir "$work/dhi-sig"
  attach_legacy "$VF_REGISTRY" "$1" "${signed[0]}" "${signed[1]}" "${signed[2]}" "$work/dhi-sig" >/dev/null
}

dhi_shape() { # repo, tag of the BuildKit build, tag of the DHI-shaped index, title
  local att image referrer
  read -r -a att <<<"$(attestation_manifest "$VF_REGISTRY" "$1" "$2" linux/amd64)"
  [ "${#att[@]}" -eq 3 ] || die "no attestation manifest for $1:$2"
  curl -fsS -o "$work/att.json" -H "Accept: $SIGKIT_OCI_MANIFEST" \
    "$registry_url/v2/$1/manifests/${att[0]}"
  rm -rf "$work/dhi-ref" && mkdir -p "$work/dhi-ref"
  read -r -a image <<<"$("$sigkit" oci dhi-attestation "$work/att.json" --out-dir "$work/dhi-ref")"
  reset_referrers "$VF_REGISTRY" "$1" "${image[0]}"
  referrer=$(_sigkit_push_referrer "$registry_url" "$1" "${image[0]}" "$work/dhi-ref") ||
    die "pushing the DHI attestation of $1:$2"
  curl -fsS -o "$work/index.json" -H "Accept: $SIGKIT_OCI_INDEX" "$registry_url/v2/$1/manifests/$2"
  "$sigkit" oci dhi-index "$work/index.json" --image "${image[0]}" --title "$4" \
    --out "$work/dhi-index.json"
  _sigkit_put_manifest "$registry_url" "$1" "$3" "$work/dhi-index.json" "$SIGKIT_OCI_INDEX" \
    >/dev/null || die "pushing $1:$3"
  sign_dhi "$1" "$(manifest_descriptor "$VF_REGISTRY" "$1" "$referrer")"
}

log "knob download bundle (signed as docker/github-builder signs github.com/knob/app)"
hello=$(curl -fsS "http://127.0.0.1:$VF_HTTP_PORT/hello.txt" | sha256sum | cut -d' ' -f1)
mkdir -p "$VF_RIG/knob"
"$sigkit" sign --root "$sigstore" --digest "sha256:$hello" --timestamp \
  --predicate-type https://slsa.dev/provenance/v1 --subject-name hello.txt \
  --claim sourceRepositoryURI=https://github.com/knob/app \
  --claim sourceRepositoryRef=refs/tags/v1.0.0 --out "$VF_RIG/knob/hello.sigstore.json" >/dev/null

log "knob DHI fixtures (DHI-shaped, signed with a throwaway DHI key)"
push_knob knob/dhi build-3.13 dhi-3.13
dhi_shape knob/dhi build-3.13 3.13 dhi/knob-dhi
sign_dhi knob/dhi "$(attestation_manifest "$VF_REGISTRY" knob/dhi build-3.13 linux/amd64)"
