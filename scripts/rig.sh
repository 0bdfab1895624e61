#!/usr/bin/env bash
# Starts or stops the rig's services, all on loopback: a registry, buildkitd (rootful, OCI
# worker, Debian's runc), a git daemon and a static HTTP server.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

run=$VF_RIG/run
mkdir -p "$run"

start_bg() { # name, command...
  local name=$1; shift
  if [ -f "$run/$name.pid" ] && kill -0 "$(cat "$run/$name.pid")" 2>/dev/null; then return; fi
  nohup "$@" >"$run/$name.log" 2>&1 &
  echo $! >"$run/$name.pid"
}

wait_for() { # what, command...
  local what=$1; shift
  for _ in $(seq 1 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  die "$what did not come up; see $run/*.log"
}

# Docker Engine 29 (scripts/setup.sh builds it), once per image store rather than one
# daemon restarted between them: the tests of both stores then run in any order with no
# restart in between, for the price of one more dockerd and containerd (~100 MB).
# Everything of its own: data root, exec root (its managed containerd lives there),
# pidfile, socket, and a bridge of its own so that it does not reconfigure 20.10's
# docker0. As 20.10: no iptables rules, no IP forwarding, no userland proxy. The rig
# registry needs no flag: the Engine treats 127.0.0.0/8 as insecure by default.
start_docker29() { # name, containerd-snapshotter (true|false), bridge, bridge address
  local name=$1 snapshotter=$2 bridge=$3 addr=$4
  if [ ! -x "$VF_DOCKER29_BIN/dockerd" ]; then
    log "$name not started: $VF_DOCKER29_BIN/dockerd is not built (scripts/setup.sh)"
    return
  fi
  if ! ip link show "$bridge" >/dev/null 2>&1; then
    ip link add name "$bridge" type bridge
    ip addr add "$addr" dev "$bridge"
    ip link set "$bridge" up
  fi
  mkdir -p "$VF_RIG/$name" "$run/$name-exec"
  printf '{"features": {"containerd-snapshotter": %s}}\n' "$snapshotter" >"$run/$name.json"
  start_bg "$name" "$VF_DOCKER29_BIN/dockerd" --config-file "$run/$name.json" \
    --host "unix://$run/$name.sock" --data-root "$VF_RIG/$name" --exec-root "$run/$name-exec" \
    --pidfile "$run/$name.pidfile" --bridge "$bridge" --iptables=false --ip6tables=false \
    --ip-masq=false --ip-forward=false --userland-proxy=false
}

start() {
  mkdir -p "$VF_RIG/registry" "$VF_RIG/buildkit" "$VF_RIG/git" "$VF_RIG/http"
  cat >"$run/registry.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $VF_RIG/registry
  delete:
    enabled: true
http:
  addr: $VF_REGISTRY
YML
  cat >"$run/buildkitd.toml" <<TOML
[worker.oci]
  enabled = true
  binary = "$(command -v runc)"
[worker.containerd]
  enabled = false
[registry."$VF_REGISTRY"]
  http = true
  insecure = true
TOML
  start_bg registry docker-registry serve "$run/registry.yml"
  start_bg buildkitd buildkitd --config "$run/buildkitd.toml" --root "$VF_RIG/buildkit" \
    --addr "$VF_BUILDKIT_HOST"
  start_bg git git daemon --reuseaddr --export-all --base-path="$VF_RIG/git" \
    --listen=127.0.0.1 --port="$VF_GIT_PORT" "$VF_RIG/git"
  start_bg http python3 -m http.server "$VF_HTTP_PORT" --bind 127.0.0.1 --directory "$VF_RIG/http"
  start_bg flip python3 "$VF_ROOT/scripts/flip_server.py" "$VF_FLIP_PORT"
  # Debian's Docker 20.10, for the `docker build` path through its older embedded BuildKit.
  # Its own data root; no iptables rules on the host (builds reach only loopback).
  mkdir -p "$VF_RIG/docker" "$run/docker-exec"
  start_bg dockerd dockerd --host "$VF_DOCKER_HOST" --data-root "$VF_RIG/docker" \
    --exec-root "$run/docker-exec" --pidfile "$run/dockerd.pidfile" --iptables=false --ip-masq=false
  start_docker29 docker29 false vf-docker29 172.29.0.1/24
  start_docker29 docker29c true vf-docker29c 172.30.0.1/24
  wait_for registry curl -fsS "http://$VF_REGISTRY/v2/"
  wait_for buildkitd buildctl debug workers
  wait_for "http server" curl -fsS "http://127.0.0.1:$VF_HTTP_PORT/"
  wait_for "flip server" curl -fsS -I "http://127.0.0.1:$VF_FLIP_PORT/x"
  wait_for dockerd /usr/bin/docker -H "$VF_DOCKER_HOST" version
  if [ -x "$VF_DOCKER29_BIN/dockerd" ]; then
    wait_for "docker 29 (classic store)" "$VF_DOCKER29_BIN/docker" -H "$VF_DOCKER29_HOST" version
    wait_for "docker 29 (containerd store)" "$VF_DOCKER29_BIN/docker" -H "$VF_DOCKER29_CONTAINERD_HOST" version
  fi
  log "rig up: registry $VF_REGISTRY, buildkitd $VF_BUILDKIT_HOST, dockerd $VF_DOCKER_HOST, docker 29 $VF_DOCKER29_HOST and $VF_DOCKER29_CONTAINERD_HOST, git :$VF_GIT_PORT, http :$VF_HTTP_PORT"
}

stop() {
  for name in buildkitd dockerd docker29 docker29c registry git http flip; do
    if [ -f "$run/$name.pid" ]; then
      pid=$(cat "$run/$name.pid")
      kill "$pid" 2>/dev/null || true
      # dockerd stops its containerd and containers first; wait so a restart finds the
      # socket and data root free.
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      rm -f "$run/$name.pid"
    fi
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) die "usage: $0 start|stop" ;;
esac
