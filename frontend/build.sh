#!/usr/bin/env bash
# Assembles the frontend image and pushes it to the rig registry: the static binary is built
# here, then the top-level Dockerfile's final stage is built with its `binary` stage
# replaced by that binary (a named context), so nothing is pulled.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

target=x86_64-unknown-linux-gnu
log "building the static frontend binary"
# glibc's static libc (crt-static) gives a binary that runs FROM scratch without a musl
# toolchain, which this machine cannot download.
(cd "$VF_ROOT" && RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --release --locked --quiet --target "$target")
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/out" "$ctx/empty"
cp "$VF_ROOT/target/$target/release/verified-frontend" "$ctx/out/"
log "pushing $VF_FRONTEND_IMAGE"
buildctl build --progress quiet --frontend dockerfile.v0 \
  --local context="$ctx/empty" --local dockerfile="$VF_ROOT" \
  --local binary="$ctx" --opt context:binary=local:binary \
  --opt target=image --opt platform=linux/amd64 \
  --output "type=image,name=$VF_FRONTEND_IMAGE,push=true,oci-mediatypes=true"
