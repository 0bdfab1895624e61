#!/usr/bin/env bash
# Signed images whose signature is not bound to the platform manifest as Docker's verifier
# (policy-helpers VerifyImage) and the frontend require, for tests/binding.rs. Each starts as
# `signed:good` does (a BuildKit build with SLSA provenance); its attestation manifest is then
# rewritten, the index re-pointed at the rewritten one, and that is signed with the kit root
# fixtures.sh minted ($VF_RIG/sigstore), so the signature itself verifies and only the
# binding is wrong:
#   signed:binding-control       rewritten harmlessly (an annotation added): must still build,
#                                which shows the rewriting keeps a valid chain
#   signed:binding-no-subject    the attestation manifest has no subject
#   signed:binding-subject-size  its subject's size is one byte off
#   signed:binding-subject-type  its subject's media type is an index, not a manifest
#   signed:binding-two-layers    attestation manifest untouched, but the signature manifest
#                                has a second layer after the bundle
# Called by fixtures.sh after the root exists; can be rerun alone (under the e2e lock).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$VF_ROOT/scripts/sigkit.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sigkit=$(sigkit_build)
sigstore=$VF_RIG/sigstore
[ -f "$sigstore/trusted_root.json" ] || die "no kit root in $sigstore: run scripts/fixtures.sh"
base=http://$VF_REGISTRY
repo=signed

mkdir -p "$work/attested"
printf 'FROM %s/busybox:latest\nARG FLAVOR\nLABEL flavor=$FLAVOR\n' "$VF_REGISTRY" >"$work/attested/Dockerfile"

push_attested() { # tag
  buildctl build --progress quiet --frontend dockerfile.v0 \
    --local context="$work/attested" --local dockerfile="$work/attested" \
    --opt platform=linux/amd64 --opt build-arg:FLAVOR="release-$1" \
    --opt attest:provenance=mode=max,version=v1 \
    --output "type=image,name=$VF_REGISTRY/$repo:$1,push=true,oci-mediatypes=true"
}

get() { # ref accept file
  curl -fsS -o "$3" -H "Accept: $2" "$base/v2/$repo/manifests/$1"
}

put() { # ref mediatype file
  curl -fsS -o /dev/null -X PUT -H "Content-Type: $2" --data-binary "@$3" \
    "$base/v2/$repo/manifests/$1"
}

# Rewrites the linux/amd64 attestation manifest of $repo:TAG with the kit's `oci
# edit-manifest` EDITS, pushes it and an index that lists it in place of the original,
# under TAG. Prints the new attestation manifest's "digest mediaType size". Every rewrite
# is still a well-formed OCI manifest (only what it says is wrong), so the kit's typed
# edits make all of them and none is written by hand here. Each step returns on failure:
# this runs inside $(...), where set -e does not reach.
rewrite_attestation() { # tag edits...
  local tag=$1 att line new
  shift
  line=$(attestation_manifest "$VF_REGISTRY" "$repo" "$tag" linux/amd64) || return 1
  read -r -a att <<<"$line"
  get "${att[0]}" "$SIGKIT_OCI_MANIFEST" "$work/$tag.att" || return 1
  "$sigkit" oci edit-manifest "$work/$tag.att" --out "$work/$tag.att.new" "$@" || return 1
  line=$("$sigkit" oci descriptor "$work/$tag.att.new") || return 1
  read -r -a new <<<"$line"
  put "${new[0]}" "$SIGKIT_OCI_MANIFEST" "$work/$tag.att.new" || return 1
  get "$tag" "$SIGKIT_OCI_INDEX" "$work/$tag.index" || return 1
  "$sigkit" oci repoint "$work/$tag.index" --from "${att[0]}" --to "$work/$tag.att.new" \
    --out "$work/$tag.index.new" || return 1
  put "$tag" "$SIGKIT_OCI_INDEX" "$work/$tag.index.new" || return 1
  echo "${new[0]} ${att[1]} ${new[2]}"
}

# Signs the attestation manifest ATT ("digest mediaType size") as the release build, the
# way fixtures.sh signs signed:good. Prints the signature manifest's digest.
sign() { # tag att...
  local tag=$1
  shift
  # Signatures from an earlier run were made under a root that no longer exists.
  reset_referrers "$VF_REGISTRY" "$repo" "$1"
  "$sigkit" sign --root "$sigstore" --digest "$1" --subject-name "$VF_REGISTRY/$repo" \
    --out "$work/$tag.bundle.json" --timestamp \
    --claim sourceRepositoryURI=https://github.com/example/app \
    --claim sourceRepositoryRef=refs/tags/v1 >/dev/null
  attach_bundle "$VF_REGISTRY" "$repo" "$1" "$2" "$3" "$work/$tag.bundle.json"
}

bound_case() { # tag edits...
  local tag=$1 att line
  shift
  push_attested "$tag"
  line=$(rewrite_attestation "$tag" "$@")
  read -r -a att <<<"$line"
  sign "$tag" "${att[@]}" >/dev/null
}

log "signing images whose signature does not bind the image"
bound_case binding-control --set-annotation org.example.rewritten=yes
bound_case binding-no-subject --drop-subject
bound_case binding-subject-size --subject-size-delta +1
bound_case binding-subject-type --subject-media-type "$SIGKIT_OCI_INDEX"

# A genuine signature whose referrer carries a second layer (the empty blob the referrer's
# config already names) after the bundle; only that referrer is listed.
push_attested binding-two-layers
read -r -a att <<<"$(attestation_manifest "$VF_REGISTRY" "$repo" binding-two-layers linux/amd64)"
sig=$(sign binding-two-layers "${att[@]}")
get "$sig" "$SIGKIT_OCI_MANIFEST" "$work/two-layers.sig"
"$sigkit" oci edit-manifest "$work/two-layers.sig" --append-config-layer --out "$work/two-layers.sig.new"
reset_referrers "$VF_REGISTRY" "$repo" "${att[0]}"
attach_referrer "$VF_REGISTRY" "$repo" "${att[0]}" "$work/two-layers.sig.new" >/dev/null
