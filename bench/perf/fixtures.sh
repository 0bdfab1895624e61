#!/usr/bin/env bash
# The benchmark's sources, made once and remade only when what they copy changed:
#   perf/busybox:base, :s1..:s500   one small two-platform index (the rig's busybox), under
#                                   500 tags: distinct sources, one content
#   signed:perf-s1..:perf-s100      tags of the signed release image signed:good (its
#                                   referrers are found by digest, so every tag is signed)
#   perf.git #t1..#t100             lightweight tags of one commit, served by the git daemon
#   http/perf/f1..f100.txt          small distinct files, served by the http server
# Pushes images: run it under the shared e2e lock (bench/perf.sh does, per BENCH_LOCK).
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

IMAGE_TAGS=500
OTHER_TAGS=100
state=$VF_RIG/bench-perf
mkdir -p "$state"
index=application/vnd.oci.image.index.v1+json

manifest_digest() { # repo tag
  curl -fsS -o /dev/null -w '%header{docker-content-digest}' -H "Accept: $index" \
    -I "http://$VF_REGISTRY/v2/$1/manifests/$2"
}

# Puts the manifest `repo:from` under tags prefix1..prefixN of the same repository: a
# manifest PUT each, no blobs move.
retag() { # repo from prefix count
  local body=$state/manifest.json mediatype
  curl -fsS -H "Accept: $index" -o "$body" "http://$VF_REGISTRY/v2/$1/manifests/$2"
  mediatype=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mediaType"])' "$body")
  for i in $(seq 1 "$4"); do
    curl -fsS -o /dev/null -X PUT -H "Content-Type: $mediatype" --data-binary "@$body" \
      "http://$VF_REGISTRY/v2/$1/manifests/$3$i"
  done
}

images() {
  local work
  work=$(mktemp -d)
  printf 'FROM %s/busybox:latest\n' "$VF_REGISTRY" >"$work/Dockerfile"
  buildctl build --progress quiet --frontend dockerfile.v0 \
    --local context="$work" --local dockerfile="$work" \
    --opt platform=linux/amd64,linux/arm64 \
    --output "type=image,name=$VF_REGISTRY/perf/busybox:base,push=true,oci-mediatypes=true"
  rm -rf "$work"
  retag perf/busybox base s "$IMAGE_TAGS"
  retag signed good perf-s "$OTHER_TAGS"
}

git_repo() {
  local repo=$VF_RIG/git/perf.git work
  work=$(mktemp -d)
  rm -rf "$repo"
  git init -q --bare -b main "$repo"
  git -C "$work" init -q -b main
  echo "perf" >"$work/file.txt"
  git -C "$work" add file.txt
  GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=Bench \
    GIT_COMMITTER_EMAIL=bench@example.com GIT_AUTHOR_DATE=2026-01-01T00:00:00Z \
    GIT_COMMITTER_DATE=2026-01-01T00:00:00Z git -C "$work" commit -qm perf
  for i in $(seq 1 "$OTHER_TAGS"); do git -C "$work" tag "t$i"; done
  git -C "$work" push -q "$repo" main --tags
  touch "$repo/git-daemon-export-ok"
  rm -rf "$work"
}

http_files() {
  mkdir -p "$VF_RIG/http/perf"
  for i in $(seq 1 "$OTHER_TAGS"); do echo "perf file $i" >"$VF_RIG/http/perf/f$i.txt"; done
}

# What the fixtures were made from; fixtures.sh remakes busybox and signed:good (a new
# Sigstore root each time), and the tags must follow.
stamp=$(printf '%s %s %s %s' "$(manifest_digest busybox latest)" \
  "$(manifest_digest signed good)" "$IMAGE_TAGS" "$OTHER_TAGS")
if [ "$(cat "$state/fixtures.stamp" 2>/dev/null)" = "$stamp" ] &&
  [ "$(manifest_digest perf/busybox "s$IMAGE_TAGS")" = "$(manifest_digest perf/busybox base)" ] &&
  [ -d "$VF_RIG/git/perf.git" ] && [ -f "$VF_RIG/http/perf/f$OTHER_TAGS.txt" ]; then
  exit 0
fi
log "bench: pushing perf/busybox:s1..s$IMAGE_TAGS, signed:perf-s1..s$OTHER_TAGS, perf.git, http/perf"
images
git_repo
http_files
echo "$stamp" >"$state/fixtures.stamp"
