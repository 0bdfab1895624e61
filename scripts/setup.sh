#!/usr/bin/env bash
# Installs what the rig needs on a fresh Debian machine: Debian packages, and BuildKit and
# Buildx built from their Go modules (nothing is downloaded but packages and modules).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

need_pkgs=()
for p in runc docker-registry docker.io protobuf-compiler git busybox-static curl jq bc gnupg openssh-client iproute2; do
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

# Docker Engine 29 (the moby/moby/v2 module), its CLI and Buildx as its plugin, for
# `docker build` on a current Engine (tests/docker29.rs). Kept out of $VF_RIG/bin so that
# PATH still finds Debian's Docker 20.10. Debian's containerd 1.6 runs both of its image
# stores, so containerd is not built; docker-proxy is not needed (rig.sh runs it with
# --userland-proxy=false).
mkdir -p "$VF_DOCKER29_BIN" "$VF_DOCKER29_CONFIG/cli-plugins"
if ! "$VF_DOCKER29_BIN/dockerd" --version 2>/dev/null | grep -q "version ${MOBY_VERSION#v},"; then
  log "building dockerd from github.com/moby/moby/v2@$MOBY_VERSION"
  # The module's go.mod has no replace or exclude, so `go install` builds it as released.
  # No cgo: dockerd needs none for overlay2 and the containerd snapshotter.
  CGO_ENABLED=0 GOBIN="$VF_DOCKER29_BIN" go install -trimpath \
    -tags "netgo osusergo static_build nri_no_wasm" \
    -ldflags "-w -X github.com/moby/moby/v2/dockerversion.Version=${MOBY_VERSION#v}" \
    "github.com/moby/moby/v2/cmd/dockerd@$MOBY_VERSION"
fi
if ! "$VF_DOCKER29_BIN/docker" --version 2>/dev/null | grep -q "version ${DOCKER_CLI_VERSION#v},"; then
  log "building the docker CLI $DOCKER_CLI_VERSION"
  # v29.9.2, the newest that builds as released: v29.9.3 and v29.10.0 require
  # github.com/moby/swarmkit/v2 v2.1.3, which the module proxy does not serve (403).
  # docker/cli has no go.mod (it ships vendor.mod) and its module zip carries no vendor
  # tree: build in a copy with vendor.mod as go.mod, the modules coming from the proxy.
  dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/docker/cli@$DOCKER_CLI_VERSION+incompatible" | jq -r .Dir)
  src=$VF_RIG/src/docker-cli
  rm -rf "$src" && mkdir -p "$VF_RIG/src" && cp -r "$dir" "$src" && chmod -R u+w "$src"
  (cd "$src" && rm -rf vendor && cp vendor.mod go.mod && cp vendor.sum go.sum &&
    CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" go build -trimpath \
      -tags "osusergo netgo static_build" \
      -ldflags "-w -X github.com/docker/cli/cli/version.Version=${DOCKER_CLI_VERSION#v}" \
      -o "$VF_DOCKER29_BIN/docker" ./cmd/docker)
fi
# `docker build` is `docker buildx build` once Buildx is a plugin in the CLI's config dir.
ln -sfn "$VF_RIG/bin/buildx" "$VF_DOCKER29_CONFIG/cli-plugins/docker-buildx"
log "rig tools: $("$VF_RIG/bin/buildkitd" --version); buildx $("$VF_RIG/bin/buildx" version)"
log "docker 29: $("$VF_DOCKER29_BIN/dockerd" --version); CLI $("$VF_DOCKER29_BIN/docker" --version)"
