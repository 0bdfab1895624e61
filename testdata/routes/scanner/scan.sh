#!/bin/sh
# A minimal SBOM generator following BuildKit's scanner protocol
# (docs/attestations/sbom-protocol.md): for each filesystem BuildKit mounts, one in-toto
# statement whose predicate is an SPDX 2.3 document listing every regular file with its
# SHA-1 and SHA-256, so a test can tell which filesystem was scanned.
set -eu
: "${BUILDKIT_SCAN_DESTINATION:?BuildKit sets the output directory}"
: "${BUILDKIT_SCAN_SOURCE:?BuildKit sets the filesystem to scan}"

json_string() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }

files() { # root
  n=0
  find "$1" -type f | sort | while IFS= read -r f; do
    n=$((n + 1))
    [ "$n" -eq 1 ] || printf ','
    sha1=$(sha1sum "$f" | cut -d' ' -f1)
    sha256=$(sha256sum "$f" | cut -d' ' -f1)
    printf '{"fileName":"%s","SPDXID":"SPDXRef-File-%d","checksums":[{"algorithm":"SHA1","checksumValue":"%s"},{"algorithm":"SHA256","checksumValue":"%s"}]}' \
      "$(json_string "${f#"$1"}")" "$n" "$sha1" "$sha256"
  done
}

scan() { # root, output file
  name=$(basename "$1")
  {
    printf '{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://spdx.dev/Document","subject":[],"predicate":{'
    printf '"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"%s",' "$(json_string "$name")"
    printf '"documentNamespace":"https://scanner.invalid/vf-scanner/%s-%s",' "$(json_string "$name")" "$(date -u +%s)"
    printf '"creationInfo":{"created":"%s","creators":["Tool: vf-scanner-1"]},' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf '"files":['
    files "$1"
    printf ']}}\n'
  } >"$2"
}

scan "$BUILDKIT_SCAN_SOURCE" "$BUILDKIT_SCAN_DESTINATION/$(basename "$BUILDKIT_SCAN_SOURCE").spdx.json"
# Extras (build context, other stages) only when BuildKit names a directory that exists.
if [ -n "${BUILDKIT_SCAN_SOURCE_EXTRAS:-}" ] && [ -d "$BUILDKIT_SCAN_SOURCE_EXTRAS" ]; then
  for extra in "$BUILDKIT_SCAN_SOURCE_EXTRAS"/*; do
    [ -d "$extra" ] || continue
    scan "$extra" "$BUILDKIT_SCAN_DESTINATION/$(basename "$extra").spdx.json"
  done
fi
