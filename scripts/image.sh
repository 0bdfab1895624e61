#!/usr/bin/env bash
# Builds the frontend as a static binary and pushes the frontend image to the rig registry.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

target=x86_64-unknown-linux-gnu
log "building the static frontend binary"
# glibc's static libc (crt-static) gives a binary that runs FROM scratch without a musl
# toolchain, which this machine cannot download.
(cd "$VF_ROOT" && RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --release --locked --quiet --target "$target")
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$VF_ROOT/target/$target/release/verified-frontend" "$ctx/"
log "pushing $VF_FRONTEND_IMAGE"
buildctl build --progress quiet --frontend dockerfile.v0 \
  --local context="$ctx" --local dockerfile="$VF_ROOT/frontend" \
  --opt platform=linux/amd64 \
  --output "type=image,name=$VF_FRONTEND_IMAGE,push=true,oci-mediatypes=true"
