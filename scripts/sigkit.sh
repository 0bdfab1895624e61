# shellcheck shell=bash
# Sourced by end-to-end scripts that need Sigstore-signed images. Pushes bundles (and legacy
# cosign signatures) made by the sigkit test kit (tests/sigkit) as OCI 1.1 referrers the way
# cosign v3 does with `--registry-referrers-mode oci-1-1`, to a plain-HTTP registry without
# the referrers API (Debian's docker-registry 2.8): the referrer manifest by digest, plus the
# Referrers Tag Schema index at `sha256-<hex>` that containerd (and so BuildKit) falls back to.
# Every OCI document is made, edited and read by the kit (`sigkit oci ...`, through
# oci-spec's types); this file only moves bytes to and from the registry.
#
#   sigkit_build                       build the kit, print the binary's path (call it first:
#                                      the functions below run the binary it builds)
#   manifest_descriptor REGISTRY REPO REF
#   attestation_manifest REGISTRY REPO TAG PLATFORM
#   attach_bundle REGISTRY REPO SUBJECT_DIGEST SUBJECT_MEDIATYPE SUBJECT_SIZE BUNDLE_FILE
#   attach_legacy REGISTRY REPO SUBJECT_DIGEST SUBJECT_MEDIATYPE SUBJECT_SIZE OUT_DIR
#   attach_referrer REGISTRY REPO SUBJECT_DIGEST MANIFEST_FILE
#   reset_referrers REGISTRY REPO SUBJECT_DIGEST
#   copy_image REGISTRY FROM_REPO REF TO_REPO TO_TAG
#
# REGISTRY is host:port (http:// assumed) or a URL. Descriptors print as
# "digest mediaType size". Needs curl and sha256sum.

SIGKIT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/sigkit"
SIGKIT_BIN=$SIGKIT_DIR/target/debug/sigkit

SIGKIT_OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json
SIGKIT_OCI_INDEX=application/vnd.oci.image.index.v1+json
SIGKIT_ACCEPT="$SIGKIT_OCI_INDEX,$SIGKIT_OCI_MANIFEST,application/vnd.docker.distribution.manifest.list.v2+json,application/vnd.docker.distribution.manifest.v2+json"

sigkit_build() {
  cargo build --quiet --manifest-path "$SIGKIT_DIR/Cargo.toml" >&2 || return 1
  echo "$SIGKIT_BIN"
}

# Runs the kit sigkit_build made; builds it only when it is missing, since the functions
# run inside command substitutions where a "built already" flag would not survive.
_sigkit() {
  [ -x "$SIGKIT_BIN" ] || sigkit_build >/dev/null || return 1
  "$SIGKIT_BIN" "$@"
}

_sigkit_fail() {
  echo "sigkit.sh: $*" >&2
  return 1
}

_sigkit_base() {
  case "$1" in
    http://* | https://*) echo "${1%/}" ;;
    *) echo "http://${1%/}" ;;
  esac
}

_sigkit_sha256() {
  echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"
}

# GET a manifest into FILE; prints the HTTP status.
_sigkit_get_manifest() { # base repo ref file [accept]
  curl -sS -o "$4" -w '%{http_code}' -H "Accept: ${5:-$SIGKIT_ACCEPT}" \
    "$1/v2/$2/manifests/$3"
}

# PUT FILE as a manifest; prints the response headers (the caller looks for OCI-Subject).
_sigkit_put_manifest() { # base repo ref file mediatype
  local headers code
  headers=$(mktemp)
  code=$(curl -sS -o /dev/null -D "$headers" -w '%{http_code}' -X PUT \
    -H "Content-Type: $5" --data-binary "@$4" "$1/v2/$2/manifests/$3") || {
    rm -f "$headers"
    return 1
  }
  if [ "$code" != 201 ]; then
    rm -f "$headers"
    _sigkit_fail "PUT $2/manifests/$3: HTTP $code"
    return 1
  fi
  tr -d '\r' <"$headers"
  rm -f "$headers"
}

# Uploads FILE as a blob unless the repository already has it; with FROM_REPO, asks the
# registry to mount it from there instead (no upload when that works).
_sigkit_put_blob() { # base repo file digest [from_repo]
  local base=$1 repo=$2 file=$3 digest=$4 from=${5:-} code location sep headers
  code=$(curl -sS -o /dev/null -w '%{http_code}' -I "$base/v2/$repo/blobs/$digest") || return 1
  [ "$code" = 200 ] && return 0
  headers=$(mktemp)
  if [ -n "$from" ]; then
    code=$(curl -sS -o /dev/null -D "$headers" -w '%{http_code}' -X POST \
      "$base/v2/$repo/blobs/uploads/?mount=${digest/:/%3A}&from=$from") || code=error
    if [ "$code" = 201 ]; then
      rm -f "$headers"
      return 0
    fi
    [ -n "$file" ] || {
      rm -f "$headers"
      _sigkit_fail "mounting $digest from $from into $repo: HTTP $code"
      return 1
    }
  else
    code=$(curl -sS -o /dev/null -D "$headers" -w '%{http_code}' -X POST \
      "$base/v2/$repo/blobs/uploads/") || code=error
  fi
  location=$(tr -d '\r' <"$headers" | awk 'tolower($1) == "location:" { print $2 }')
  rm -f "$headers"
  [ "$code" = 202 ] && [ -n "$location" ] ||
    { _sigkit_fail "starting a blob upload to $repo: HTTP $code"; return 1; }
  case "$location" in /*) location="$base$location" ;; esac
  case "$location" in *\?*) sep='&' ;; *) sep='?' ;; esac
  code=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT \
    -H 'Content-Type: application/octet-stream' --data-binary "@$file" \
    "$location${sep}digest=${digest/:/%3A}") || return 1
  [ "$code" = 201 ] || { _sigkit_fail "uploading $digest to $repo: HTTP $code"; return 1; }
}

# Prints "digest mediaType size" of the manifest or index at a tag or digest.
manifest_descriptor() { # registry repo ref
  [ $# -eq 3 ] || { _sigkit_fail "usage: manifest_descriptor REGISTRY REPO REF"; return 1; }
  local base body out code served line type=()
  base=$(_sigkit_base "$1")
  body=$(mktemp)
  out=$(curl -sS -o "$body" -w '%{http_code} %{content_type}' -H "Accept: $SIGKIT_ACCEPT" \
    "$base/v2/$2/manifests/$3") || out=error
  read -r code served <<<"$out"
  if [ "$code" != 200 ]; then
    rm -f "$body"
    _sigkit_fail "GET $2/manifests/$3: HTTP $code"
    return 1
  fi
  # The Content-Type stands in for a document that names no mediaType.
  if [ -n "$served" ]; then type=(--media-type "${served%%;*}"); fi
  line=$(_sigkit oci descriptor "$body" "${type[@]}") || {
    rm -f "$body"
    _sigkit_fail "$2/manifests/$3 is not a manifest or index"
    return 1
  }
  rm -f "$body"
  case "$3" in
    sha256:*) [ "$3" = "${line%% *}" ] || {
      _sigkit_fail "$2@$3: the registry served content with digest ${line%% *}"
      return 1
    } ;;
  esac
  echo "$line"
}

# Prints "digest mediaType size" of BuildKit's attestation manifest for PLATFORM
# (os/arch[/variant]) in the index at TAG.
attestation_manifest() { # registry repo tag platform
  [ $# -eq 4 ] || { _sigkit_fail "usage: attestation_manifest REGISTRY REPO TAG PLATFORM"; return 1; }
  local base body code found
  base=$(_sigkit_base "$1")
  body=$(mktemp)
  code=$(_sigkit_get_manifest "$base" "$2" "$3" "$body") || code=error
  if [ "$code" != 200 ]; then
    rm -f "$body"
    _sigkit_fail "GET $2/manifests/$3: HTTP $code"
    return 1
  fi
  found=$(_sigkit oci attestation-of "$body" "$4") || {
    rm -f "$body"
    _sigkit_fail "$2:$3 has no attestation manifest for $4"
    return 1
  }
  rm -f "$body"
  echo "$found"
}

# After pushing referrer manifest FILE with response HEADERS: unless the registry has the
# referrers API (it says so with OCI-Subject and keeps the list itself), adds the manifest
# to the subject's `sha256-<hex>` referrers tag index (replacing an entry of the same
# digest), creating the index if needed.
_sigkit_record_referrer() { # base repo subject_digest manifest_file headers
  local base=$1 repo=$2 subject=$3 manifest=$4 headers=$5 work code
  grep -qi '^oci-subject:' <<<"$headers" && return 0
  work=$(mktemp -d)
  local tag="sha256-${subject#sha256:}"
  code=$(_sigkit_get_manifest "$base" "$repo" "$tag" "$work/index" "$SIGKIT_OCI_INDEX") || code=error
  case "$code" in
    200) ;;
    404) _sigkit oci empty-index --out "$work/index" || { rm -rf "$work"; return 1; } ;;
    *) rm -rf "$work"; _sigkit_fail "GET $repo:$tag: HTTP $code"; return 1 ;;
  esac
  _sigkit oci referrers-add --index "$work/index" --manifest "$manifest" --out "$work/index.new" ||
    { rm -rf "$work"; _sigkit_fail "$repo:$tag: cannot list $manifest there"; return 1; }
  _sigkit_put_manifest "$base" "$repo" "$tag" "$work/index.new" "$SIGKIT_OCI_INDEX" >/dev/null ||
    { rm -rf "$work"; return 1; }
  rm -rf "$work"
}

# Pushes the referrer the kit wrote to DIR (DIR/config.json, the blobs given, then
# DIR/manifest.json by digest) and records it in the subject's referrers tag. Prints the
# manifest's digest.
_sigkit_push_referrer() { # base repo subject_digest dir blob_file...
  local base=$1 repo=$2 subject=$3 dir=$4 blob manifest_digest headers
  shift 4
  for blob in "$dir/config.json" "$@"; do
    _sigkit_put_blob "$base" "$repo" "$blob" "$(_sigkit_sha256 "$blob")" || return 1
  done
  manifest_digest=$(_sigkit_sha256 "$dir/manifest.json")
  headers=$(_sigkit_put_manifest "$base" "$repo" "$manifest_digest" "$dir/manifest.json" \
    "$SIGKIT_OCI_MANIFEST") || return 1
  _sigkit_record_referrer "$base" "$repo" "$subject" "$dir/manifest.json" "$headers" || return 1
  echo "$manifest_digest"
}

# Pushes BUNDLE_FILE as a referrer of the subject and records it in the subject's
# `sha256-<hex>` referrers tag. Prints the referrer manifest's digest.
attach_bundle() { # registry repo subject_digest subject_mediatype subject_size bundle_file
  [ $# -eq 6 ] || {
    _sigkit_fail "usage: attach_bundle REGISTRY REPO SUBJECT_DIGEST SUBJECT_MEDIATYPE SUBJECT_SIZE BUNDLE_FILE"
    return 1
  }
  local base repo=$2 subject=$3 bundle=$6 work
  base=$(_sigkit_base "$1")
  work=$(mktemp -d)
  _sigkit oci bundle-referrer --bundle "$bundle" --subject "$subject" "$4" "$5" --out-dir "$work" &&
    _sigkit_push_referrer "$base" "$repo" "$subject" "$work" "$bundle" ||
    { rm -rf "$work"; _sigkit_fail "attaching $bundle to $repo@$subject failed"; return 1; }
  rm -rf "$work"
}

# Pushes a cosign legacy signature made by `sigkit sign-legacy --out-dir OUT_DIR` as a
# referrer of the subject, the way cosign writes its `.sig` manifests but with
# `artifactType` and `subject` (what policy-helpers and BuildKit look for among referrers):
# OUT_DIR/payload.json as the simplesigning layer annotated with OUT_DIR/annotations.json,
# a cosign-like config. Records it in the `sha256-<hex>` referrers tag as attach_bundle does.
# Prints the referrer manifest's digest.
attach_legacy() { # registry repo subject_digest subject_mediatype subject_size out_dir
  [ $# -eq 6 ] || {
    _sigkit_fail "usage: attach_legacy REGISTRY REPO SUBJECT_DIGEST SUBJECT_MEDIATYPE SUBJECT_SIZE OUT_DIR"
    return 1
  }
  local base repo=$2 subject=$3 dir=$6 work
  base=$(_sigkit_base "$1")
  work=$(mktemp -d)
  _sigkit oci legacy-signature --sig-dir "$dir" --subject "$subject" "$4" "$5" --out-dir "$work" &&
    _sigkit_push_referrer "$base" "$repo" "$subject" "$work" "$dir/payload.json" ||
    { rm -rf "$work"; _sigkit_fail "attaching the signature in $dir to $repo@$subject failed"; return 1; }
  rm -rf "$work"
}

# Pushes MANIFEST_FILE, an OCI image manifest whose blobs the repository already has (a
# referrer shaped by hand, e.g. a malformed signature manifest), by digest and records it in
# the subject's `sha256-<hex>` referrers tag as attach_bundle does. Prints its digest.
attach_referrer() { # registry repo subject_digest manifest_file
  [ $# -eq 4 ] || { _sigkit_fail "usage: attach_referrer REGISTRY REPO SUBJECT_DIGEST MANIFEST_FILE"; return 1; }
  local base repo=$2 subject=$3 manifest=$4 line manifest_digest media headers
  base=$(_sigkit_base "$1")
  [[ "$subject" =~ ^sha256:[0-9a-f]{64}$ ]] || { _sigkit_fail "bad subject digest $subject"; return 1; }
  line=$(_sigkit oci descriptor "$manifest") || { _sigkit_fail "$manifest is not a manifest"; return 1; }
  read -r manifest_digest media _ <<<"$line"
  [ "$media" = "$SIGKIT_OCI_MANIFEST" ] || { _sigkit_fail "$manifest is not an OCI image manifest"; return 1; }
  headers=$(_sigkit_put_manifest "$base" "$repo" "$manifest_digest" "$manifest" "$SIGKIT_OCI_MANIFEST") ||
    return 1
  _sigkit_record_referrer "$base" "$repo" "$subject" "$manifest" "$headers" || return 1
  echo "$manifest_digest"
}

# Replaces the subject's `sha256-<hex>` referrers tag with an empty index: signatures from
# an earlier run were made under a root that no longer exists.
reset_referrers() { # registry repo subject_digest
  [ $# -eq 3 ] || { _sigkit_fail "usage: reset_referrers REGISTRY REPO SUBJECT_DIGEST"; return 1; }
  local base repo=$2 subject=$3 work
  base=$(_sigkit_base "$1")
  [[ "$subject" =~ ^sha256:[0-9a-f]{64}$ ]] || { _sigkit_fail "bad subject digest $subject"; return 1; }
  work=$(mktemp -d)
  _sigkit oci empty-index --out "$work/index" &&
    _sigkit_put_manifest "$base" "$repo" "sha256-${subject#sha256:}" "$work/index" \
      "$SIGKIT_OCI_INDEX" >/dev/null || { rm -rf "$work"; return 1; }
  rm -rf "$work"
}

# The mediaType FILE names, DEFAULT when it names none.
_sigkit_media_type() { # file default
  local line
  line=$(_sigkit oci descriptor "$1" --media-type "$2") || return 1
  read -r _ line _ <<<"$line"
  echo "$line"
}

# Mounts the config and layers of the manifest in FILE from FROM_REPO into TO_REPO.
_sigkit_mount_blobs() { # base from to file
  local blobs blob
  blobs=$(_sigkit oci blobs "$4") || return 1
  for blob in $blobs; do
    _sigkit_put_blob "$1" "$3" "" "$blob" "$2" || return 1
  done
}

# Copies an image (index or manifest, with its blobs mounted, not downloaded) to another
# repository of the same registry, so tests can sign a copy rather than a shared fixture.
copy_image() { # registry from_repo ref to_repo to_tag
  [ $# -eq 5 ] || { _sigkit_fail "usage: copy_image REGISTRY FROM_REPO REF TO_REPO TO_TAG"; return 1; }
  local base from=$2 ref=$3 to=$4 tag=$5 work code media children child
  base=$(_sigkit_base "$1")
  work=$(mktemp -d)
  code=$(_sigkit_get_manifest "$base" "$from" "$ref" "$work/top") || code=error
  [ "$code" = 200 ] || { rm -rf "$work"; _sigkit_fail "GET $from/manifests/$ref: HTTP $code"; return 1; }
  children=$(_sigkit oci children "$work/top") || { rm -rf "$work"; return 1; }
  for child in $children; do
    code=$(_sigkit_get_manifest "$base" "$from" "$child" "$work/child") || code=error
    [ "$code" = 200 ] || { rm -rf "$work"; _sigkit_fail "GET $from@$child: HTTP $code"; return 1; }
    _sigkit_mount_blobs "$base" "$from" "$to" "$work/child" &&
      media=$(_sigkit_media_type "$work/child" "$SIGKIT_OCI_MANIFEST") &&
      _sigkit_put_manifest "$base" "$to" "$child" "$work/child" "$media" >/dev/null ||
      { rm -rf "$work"; return 1; }
  done
  _sigkit_mount_blobs "$base" "$from" "$to" "$work/top" &&
    media=$(_sigkit_media_type "$work/top" "$SIGKIT_OCI_INDEX") &&
    _sigkit_put_manifest "$base" "$to" "$tag" "$work/top" "$media" >/dev/null ||
    { rm -rf "$work"; return 1; }
  rm -rf "$work"
}
