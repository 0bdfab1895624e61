#!/usr/bin/env bash
# Test inputs for the routes around the policy (tests/routes.rs), made here from Debian's
# busybox-static like the rest (nothing pulled), pushed as two-platform OCI indexes:
#   scanner:1          an SBOM generator following BuildKit's scanner protocol
#   adv/base:a, :b     one repository, two tags whose config, ONBUILD trigger and /which differ
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
routes=$VF_ROOT/testdata/routes

busybox_rootfs() { # dir
  mkdir -p "$1/bin" "$1/tmp" "$1/etc"
  cp /bin/busybox "$1/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$1/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$1/etc/passwd"
}

push_context() { # name, context dir (with its Dockerfile)
  # Only amd64 can run here; the arm64 entry makes the image an index, as on Docker Hub.
  buildctl build --progress quiet --frontend dockerfile.v0 \
    --local context="$2" --local dockerfile="$2" \
    --opt platform=linux/amd64,linux/arm64 \
    --output "type=image,name=$VF_REGISTRY/$1,push=true,oci-mediatypes=true"
}

log "pushing the SBOM scanner image"
busybox_rootfs "$work/scanner/rootfs"
cp "$routes/scanner/Dockerfile" "$routes/scanner/scan.sh" "$work/scanner/"
push_context scanner:1 "$work/scanner"

log "pushing adv/base:a and adv/base:b"
for which in a b; do
  ctx=$work/base-$which
  busybox_rootfs "$ctx/rootfs"
  # Written by the base's non-root USER, in the ONBUILD trigger and the tests' RUN steps.
  mkdir -m 0777 "$ctx/rootfs/out"
  echo "$which" >"$ctx/which"
  cp "$routes/base/$which.Dockerfile" "$ctx/Dockerfile"
  push_context "adv/base:$which" "$ctx"
done
