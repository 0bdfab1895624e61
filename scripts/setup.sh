#!/usr/bin/env bash
# Installs what the rig needs on a fresh Debian machine: Debian packages, and BuildKit and
# Buildx built from their Go modules (nothing is downloaded but packages and modules).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_pkgs=()
for p in runc docker-registry docker.io protobuf-compiler git busybox-static curl jq bc gnupg openssh-client; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "apt-get install ${need_pkgs[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

mkdir -p "$VF_RIG/bin"
if ! "$VF_RIG/bin/buildkitd" --version 2>/dev/null | grep -q "$BUILDKIT_VERSION" || [ ! -x "$VF_RIG/bin/dockerfile-frontend" ]; then
  log "building buildkitd and buildctl $BUILDKIT_VERSION from the Go module"
  # `go install` refuses modules with an exclude block, so build inside the module.
  dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/moby/buildkit@$BUILDKIT_VERSION" | jq -r .Dir)
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath \
    -tags "osusergo netgo static_build" \
    -ldflags "-X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION" \
    -o "$VF_RIG/bin/" ./cmd/buildkitd ./cmd/buildctl)
  # BuildKit's Dockerfile frontend as a gateway image binary, to test choosing another
  # Dockerfile frontend without pulling docker/dockerfile.
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -tags "osusergo netgo static_build" \
    -o "$VF_RIG/bin/dockerfile-frontend" ./frontend/dockerfile/cmd/dockerfile-frontend)
fi
if ! "$VF_RIG/bin/buildx" version 2>/dev/null | grep -q "$BUILDX_VERSION"; then
  log "building buildx $BUILDX_VERSION"
  GOBIN="$VF_RIG/bin" go install -trimpath \
    -ldflags "-X github.com/docker/buildx/version.Version=$BUILDX_VERSION" \
    "github.com/docker/buildx/cmd/buildx@$BUILDX_VERSION"
fi
log "rig tools: $("$VF_RIG/bin/buildkitd" --version); buildx $("$VF_RIG/bin/buildx" version)"
