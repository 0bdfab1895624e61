# shellcheck shell=bash
# Sourced by end-to-end scripts that need Sigstore-signed images. Pushes bundles (and legacy
# cosign signatures) made by the sigkit test kit (tests/sigkit) as OCI 1.1 referrers the way
# cosign v3 does with `--registry-referrers-mode oci-1-1`, to a plain-HTTP registry without
# the referrers API (Debian's docker-registry 2.8): the referrer manifest by digest, plus the
# Referrers Tag Schema index at `sha256-<hex>` that containerd (and so BuildKit) falls back to.
#
#   sigkit_build                       build the kit, print the binary's path
#   manifest_descriptor REGISTRY REPO REF
#   attestation_manifest REGISTRY REPO TAG PLATFORM
#   attach_bundle REGISTRY REPO SUBJECT_DIGEST SUBJECT_MEDIATYPE SUBJECT_SIZE BUNDLE_FILE
#   attach_legacy REGISTRY REPO SUBJECT_DIGEST SUBJECT_MEDIATYPE SUBJECT_SIZE OUT_DIR
#   copy_image REGISTRY FROM_REPO REF TO_REPO TO_TAG
#   attach_referrer REGISTRY REPO SUBJECT_DIGEST MANIFEST_FILE
#
# REGISTRY is host:port (http:// assumed) or a URL. Descriptors print as
# "digest mediaType size". Needs curl, jq and sha256sum.

SIGKIT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/sigkit"

SIGKIT_BUNDLE_TYPE=application/vnd.dev.sigstore.bundle.v0.3+json
SIGKIT_EMPTY_TYPE=application/vnd.oci.empty.v1+json
SIGKIT_EMPTY_DIGEST=sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a
SIGKIT_COSIGN_SIG_TYPE=application/vnd.dev.cosign.artifact.sig.v1+json
SIGKIT_SIMPLESIGNING_TYPE=application/vnd.dev.cosign.simplesigning.v1+json
SIGKIT_OCI_CONFIG=application/vnd.oci.image.config.v1+json
SIGKIT_OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json
SIGKIT_OCI_INDEX=application/vnd.oci.image.index.v1+json
SIGKIT_ACCEPT="$SIGKIT_OCI_INDEX,$SIGKIT_OCI_MANIFEST,application/vnd.docker.distribution.manifest.list.v2+json,application/vnd.docker.distribution.manifest.v2+json"

sigkit_build() {
  cargo build --quiet --manifest-path "$SIGKIT_DIR/Cargo.toml" >&2 || return 1
  echo "$SIGKIT_DIR/target/debug/sigkit"
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
  local base body code digest media
  base=$(_sigkit_base "$1")
  body=$(mktemp)
  code=$(_sigkit_get_manifest "$base" "$2" "$3" "$body") || code=error
  if [ "$code" != 200 ]; then
    rm -f "$body"
    _sigkit_fail "GET $2/manifests/$3: HTTP $code"
    return 1
  fi
  digest=$(_sigkit_sha256 "$body")
  media=$(jq -r '.mediaType // empty' "$body" 2>/dev/null)
  case "$3" in
    sha256:*) [ "$3" = "$digest" ] || {
      rm -f "$body"
      _sigkit_fail "$2@$3: the registry served content with digest $digest"
      return 1
    } ;;
  esac
  echo "$digest ${media:-unknown} $(wc -c <"$body" | tr -d ' ')"
  rm -f "$body"
}

# Prints "digest mediaType size" of BuildKit's attestation manifest for PLATFORM
# (os/arch[/variant]) in the index at TAG.
attestation_manifest() { # registry repo tag platform
  [ $# -eq 4 ] || { _sigkit_fail "usage: attestation_manifest REGISTRY REPO TAG PLATFORM"; return 1; }
  local base body code os arch variant found
  base=$(_sigkit_base "$1")
  IFS=/ read -r os arch variant <<<"$4"
  body=$(mktemp)
  code=$(_sigkit_get_manifest "$base" "$2" "$3" "$body") || code=error
  if [ "$code" != 200 ]; then
    rm -f "$body"
    _sigkit_fail "GET $2/manifests/$3: HTTP $code"
    return 1
  fi
  found=$(jq -r --arg os "$os" --arg arch "$arch" --arg variant "${variant:-}" '
    def kind: .annotations["vnd.docker.reference.type"] // "";
    [.manifests[]? | select(kind != "attestation-manifest")
      | select(.platform.os == $os and .platform.architecture == $arch
               and ($variant == "" or .platform.variant == $variant)) | .digest] as $images
    | .manifests[]? | select(kind == "attestation-manifest")
    | select(.annotations["vnd.docker.reference.digest"] as $d | $images | index($d))
    | "\(.digest) \(.mediaType) \(.size)"' "$body" 2>/dev/null | head -n1)
  rm -f "$body"
  [ -n "$found" ] || { _sigkit_fail "$2:$3 has no attestation manifest for $4"; return 1; }
  echo "$found"
}

# After pushing referrer manifest FILE (digest DIGEST) with response HEADERS: unless the
# registry has the referrers API (it says so with OCI-Subject and keeps the list itself),
# adds the manifest to the subject's `sha256-<hex>` referrers tag index (replacing an entry
# of the same digest), creating the index if needed.
_sigkit_record_referrer() { # base repo subject_digest manifest_file manifest_digest headers
  local base=$1 repo=$2 subject=$3 manifest=$4 manifest_digest=$5 headers=$6 work code
  grep -qi '^oci-subject:' <<<"$headers" && return 0
  work=$(mktemp -d)
  local tag="sha256-${subject#sha256:}"
  code=$(_sigkit_get_manifest "$base" "$repo" "$tag" "$work/index" "$SIGKIT_OCI_INDEX") || code=error
  case "$code" in
    200) jq -e --arg it "$SIGKIT_OCI_INDEX" '.mediaType == $it' "$work/index" >/dev/null ||
      { rm -rf "$work"; _sigkit_fail "$repo:$tag exists and is not an OCI image index"; return 1; } ;;
    404) printf '{"schemaVersion":2,"mediaType":"%s","manifests":[]}' "$SIGKIT_OCI_INDEX" >"$work/index" ;;
    *) rm -rf "$work"; _sigkit_fail "GET $repo:$tag: HTTP $code"; return 1 ;;
  esac
  jq -c --slurpfile m "$manifest" --arg d "$manifest_digest" \
    --argjson size "$(wc -c <"$manifest" | tr -d ' ')" '
    .manifests = ([.manifests[]? | select(.digest != $d)] + [{
      mediaType: $m[0].mediaType, digest: $d, size: $size,
      artifactType: $m[0].artifactType, annotations: $m[0].annotations
    } | with_entries(select(.value != null))])' "$work/index" >"$work/index.new"
  _sigkit_put_manifest "$base" "$repo" "$tag" "$work/index.new" "$SIGKIT_OCI_INDEX" >/dev/null ||
    { rm -rf "$work"; return 1; }
  rm -rf "$work"
}

# Pushes BUNDLE_FILE as a referrer of the subject and records it in the subject's
# `sha256-<hex>` referrers tag. Prints the referrer manifest's digest.
attach_bundle() { # registry repo subject_digest subject_mediatype subject_size bundle_file
  [ $# -eq 6 ] || {
    _sigkit_fail "usage: attach_bundle REGISTRY REPO SUBJECT_DIGEST SUBJECT_MEDIATYPE SUBJECT_SIZE BUNDLE_FILE"
    return 1
  }
  local base repo=$2 subject=$3 subject_type=$4 subject_size=$5 bundle=$6
  local work bundle_digest bundle_size predicate content created manifest_digest headers
  base=$(_sigkit_base "$1")
  [[ "$subject" =~ ^sha256:[0-9a-f]{64}$ ]] || { _sigkit_fail "bad subject digest $subject"; return 1; }
  [[ "$subject_size" =~ ^[0-9]+$ ]] || { _sigkit_fail "bad subject size $subject_size"; return 1; }
  jq -e .mediaType "$bundle" >/dev/null 2>&1 || { _sigkit_fail "$bundle is not a Sigstore bundle"; return 1; }

  work=$(mktemp -d)
  printf '{}' >"$work/empty"
  _sigkit_put_blob "$base" "$repo" "$work/empty" "$SIGKIT_EMPTY_DIGEST" || { rm -rf "$work"; return 1; }
  bundle_digest=$(_sigkit_sha256 "$bundle")
  bundle_size=$(wc -c <"$bundle" | tr -d ' ')
  _sigkit_put_blob "$base" "$repo" "$bundle" "$bundle_digest" || { rm -rf "$work"; return 1; }

  predicate=$(jq -r '.dsseEnvelope.payload // empty | @base64d | fromjson | .predicateType // empty' \
    "$bundle" 2>/dev/null)
  if jq -e .dsseEnvelope "$bundle" >/dev/null; then content=dsse-envelope; else content=message-signature; fi
  created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  jq -n -c \
    --arg bt "$SIGKIT_BUNDLE_TYPE" --arg mt "$SIGKIT_OCI_MANIFEST" \
    --arg et "$SIGKIT_EMPTY_TYPE" --arg ed "$SIGKIT_EMPTY_DIGEST" \
    --arg bd "$bundle_digest" --argjson bs "$bundle_size" \
    --arg sd "$subject" --arg st "$subject_type" --argjson ss "$subject_size" \
    --arg content "$content" --arg predicate "${predicate:-https://sigstore.dev/cosign/sign/v1}" \
    --arg created "$created" '{
      schemaVersion: 2,
      mediaType: $mt,
      artifactType: $bt,
      config: {mediaType: $et, digest: $ed, size: 2},
      layers: [{mediaType: $bt, digest: $bd, size: $bs}],
      subject: {mediaType: $st, digest: $sd, size: $ss},
      annotations: {
        "dev.sigstore.bundle.content": $content,
        "dev.sigstore.bundle.predicateType": $predicate,
        "org.opencontainers.image.created": $created
      }
    }' >"$work/manifest"
  manifest_digest=$(_sigkit_sha256 "$work/manifest")
  headers=$(_sigkit_put_manifest "$base" "$repo" "$manifest_digest" "$work/manifest" "$SIGKIT_OCI_MANIFEST") ||
    { rm -rf "$work"; return 1; }

  _sigkit_record_referrer "$base" "$repo" "$subject" "$work/manifest" "$manifest_digest" "$headers" ||
    { rm -rf "$work"; return 1; }
  rm -rf "$work"
  echo "$manifest_digest"
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
  local base repo=$2 subject=$3 subject_type=$4 subject_size=$5 dir=$6
  local work payload_digest payload_size config_digest config_size manifest_digest headers
  base=$(_sigkit_base "$1")
  [[ "$subject" =~ ^sha256:[0-9a-f]{64}$ ]] || { _sigkit_fail "bad subject digest $subject"; return 1; }
  [[ "$subject_size" =~ ^[0-9]+$ ]] || { _sigkit_fail "bad subject size $subject_size"; return 1; }
  jq -e '.critical.type' "$dir/payload.json" >/dev/null 2>&1 ||
    { _sigkit_fail "$dir/payload.json is not a simplesigning payload"; return 1; }
  jq -e 'type == "object" and all(.[]; type == "string")' "$dir/annotations.json" >/dev/null 2>&1 ||
    { _sigkit_fail "$dir/annotations.json is not an object of strings"; return 1; }

  work=$(mktemp -d)
  payload_digest=$(_sigkit_sha256 "$dir/payload.json")
  payload_size=$(wc -c <"$dir/payload.json" | tr -d ' ')
  _sigkit_put_blob "$base" "$repo" "$dir/payload.json" "$payload_digest" || { rm -rf "$work"; return 1; }
  # cosign's config for a signature image: one "layer", the payload.
  jq -n -c --arg pd "$payload_digest" '{
      architecture: "", created: "0001-01-01T00:00:00Z",
      history: [{created: "0001-01-01T00:00:00Z"}], os: "",
      rootfs: {type: "layers", diff_ids: [$pd]}, config: {}
    }' | tr -d '\n' >"$work/config"
  config_digest=$(_sigkit_sha256 "$work/config")
  config_size=$(wc -c <"$work/config" | tr -d ' ')
  _sigkit_put_blob "$base" "$repo" "$work/config" "$config_digest" || { rm -rf "$work"; return 1; }

  jq -n -c \
    --arg at "$SIGKIT_COSIGN_SIG_TYPE" --arg mt "$SIGKIT_OCI_MANIFEST" \
    --arg ct "$SIGKIT_OCI_CONFIG" --arg cd "$config_digest" --argjson cs "$config_size" \
    --arg lt "$SIGKIT_SIMPLESIGNING_TYPE" --arg pd "$payload_digest" --argjson ps "$payload_size" \
    --slurpfile ann "$dir/annotations.json" \
    --arg sd "$subject" --arg st "$subject_type" --argjson ss "$subject_size" '{
      schemaVersion: 2,
      mediaType: $mt,
      artifactType: $at,
      config: {mediaType: $ct, digest: $cd, size: $cs},
      layers: [{mediaType: $lt, digest: $pd, size: $ps, annotations: $ann[0]}],
      subject: {mediaType: $st, digest: $sd, size: $ss}
    }' >"$work/manifest"
  manifest_digest=$(_sigkit_sha256 "$work/manifest")
  headers=$(_sigkit_put_manifest "$base" "$repo" "$manifest_digest" "$work/manifest" "$SIGKIT_OCI_MANIFEST") ||
    { rm -rf "$work"; return 1; }
  _sigkit_record_referrer "$base" "$repo" "$subject" "$work/manifest" "$manifest_digest" "$headers" ||
    { rm -rf "$work"; return 1; }
  rm -rf "$work"
  echo "$manifest_digest"
}

# Pushes MANIFEST_FILE, an OCI image manifest whose blobs the repository already has (a
# referrer shaped by hand, e.g. a malformed signature manifest), by digest and records it in
# the subject's `sha256-<hex>` referrers tag as attach_bundle does. Prints its digest.
attach_referrer() { # registry repo subject_digest manifest_file
  [ $# -eq 4 ] || { _sigkit_fail "usage: attach_referrer REGISTRY REPO SUBJECT_DIGEST MANIFEST_FILE"; return 1; }
  local base repo=$2 subject=$3 manifest=$4 manifest_digest headers
  base=$(_sigkit_base "$1")
  [[ "$subject" =~ ^sha256:[0-9a-f]{64}$ ]] || { _sigkit_fail "bad subject digest $subject"; return 1; }
  jq -e --arg mt "$SIGKIT_OCI_MANIFEST" '.mediaType == $mt' "$manifest" >/dev/null 2>&1 ||
    { _sigkit_fail "$manifest is not an OCI image manifest"; return 1; }
  manifest_digest=$(_sigkit_sha256 "$manifest")
  headers=$(_sigkit_put_manifest "$base" "$repo" "$manifest_digest" "$manifest" "$SIGKIT_OCI_MANIFEST") ||
    return 1
  _sigkit_record_referrer "$base" "$repo" "$subject" "$manifest" "$manifest_digest" "$headers" ||
    return 1
  echo "$manifest_digest"
}

# Copies an image (index or manifest, with its blobs mounted, not downloaded) to another
# repository of the same registry, so tests can sign a copy rather than a shared fixture.
copy_image() { # registry from_repo ref to_repo to_tag
  [ $# -eq 5 ] || { _sigkit_fail "usage: copy_image REGISTRY FROM_REPO REF TO_REPO TO_TAG"; return 1; }
  local base from=$2 ref=$3 to=$4 tag=$5 work code media child blob
  base=$(_sigkit_base "$1")
  work=$(mktemp -d)
  code=$(_sigkit_get_manifest "$base" "$from" "$ref" "$work/top") || code=error
  [ "$code" = 200 ] || { rm -rf "$work"; _sigkit_fail "GET $from/manifests/$ref: HTTP $code"; return 1; }
  media=$(jq -r '.mediaType // empty' "$work/top")
  for child in $(jq -r '.manifests[]?.digest' "$work/top"); do
    code=$(_sigkit_get_manifest "$base" "$from" "$child" "$work/child") || code=error
    [ "$code" = 200 ] || { rm -rf "$work"; _sigkit_fail "GET $from@$child: HTTP $code"; return 1; }
    for blob in $(jq -r '.config.digest // empty, .layers[]?.digest' "$work/child"); do
      _sigkit_put_blob "$base" "$to" "" "$blob" "$from" || { rm -rf "$work"; return 1; }
    done
    _sigkit_put_manifest "$base" "$to" "$child" "$work/child" \
      "$(jq -r '.mediaType // empty' "$work/child")" >/dev/null || { rm -rf "$work"; return 1; }
  done
  for blob in $(jq -r '.config.digest // empty, .layers[]?.digest' "$work/top"); do
    _sigkit_put_blob "$base" "$to" "" "$blob" "$from" || { rm -rf "$work"; return 1; }
  done
  _sigkit_put_manifest "$base" "$to" "$tag" "$work/top" "${media:-$SIGKIT_OCI_INDEX}" >/dev/null ||
    { rm -rf "$work"; return 1; }
  rm -rf "$work"
}
