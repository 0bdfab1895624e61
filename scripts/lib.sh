# Shared settings of the test rig; sourced by the other scripts.
# shellcheck shell=bash
set -euo pipefail

VF_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Everything the rig builds, downloads or runs lives here, inside the clone and ignored by
# git, so a fresh clone starts from nothing.
VF_RIG=${VF_RIG:-$VF_ROOT/.rig}
BUILDKIT_VERSION=${BUILDKIT_VERSION:-v0.34.2}
BUILDX_VERSION=${BUILDX_VERSION:-v0.38.2}
# Docker Engine 29: the daemon's module and the CLI (scripts/setup.sh says why these).
MOBY_VERSION=${MOBY_VERSION:-v2.0.0-beta.24}
DOCKER_CLI_VERSION=${DOCKER_CLI_VERSION:-v29.9.2}

# Fixed loopback addresses: the Dockerfiles in testdata/ name them.
VF_REGISTRY=127.0.0.1:5000
VF_GIT_PORT=9418
VF_HTTP_PORT=8777
VF_FLIP_PORT=8778
VF_BUILDKIT_HOST=unix://$VF_RIG/run/buildkitd.sock
VF_FRONTEND_IMAGE=$VF_REGISTRY/verified-frontend:latest
VF_DOCKER_HOST=unix://$VF_RIG/run/docker.sock

export VF_ROOT VF_RIG VF_REGISTRY VF_GIT_PORT VF_HTTP_PORT VF_FLIP_PORT VF_BUILDKIT_HOST VF_FRONTEND_IMAGE VF_DOCKER_HOST
# Docker Engine 29 beside 20.10, once per image store: the classic graphdriver store and
# the containerd image store. Its CLI finds Buildx as a plugin in VF_DOCKER29_CONFIG.
VF_DOCKER29_BIN=$VF_RIG/docker29/bin
VF_DOCKER29_CONFIG=$VF_RIG/docker29/config
VF_DOCKER29_HOST=unix://$VF_RIG/run/docker29.sock
VF_DOCKER29_CONTAINERD_HOST=unix://$VF_RIG/run/docker29c.sock
export MOBY_VERSION DOCKER_CLI_VERSION VF_DOCKER29_BIN VF_DOCKER29_CONFIG VF_DOCKER29_HOST VF_DOCKER29_CONTAINERD_HOST
export BUILDKIT_HOST=$VF_BUILDKIT_HOST
export PATH=$VF_RIG/bin:$PATH

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Installs the rig's tools, starts its services (stopped again when the calling script
# exits), creates the test inputs and pushes the frontend image.
rig_up() {
  bash "$VF_ROOT/scripts/setup.sh"
  bash "$VF_ROOT/scripts/rig.sh" start
  trap 'bash "$VF_ROOT/scripts/rig.sh" stop' EXIT
  bash "$VF_ROOT/scripts/fixtures.sh"
  bash "$VF_ROOT/frontend/build.sh"
  bash "$VF_ROOT/scripts/fixtures-release.sh"
  bash "$VF_ROOT/scripts/fixtures-knob.sh"
}
