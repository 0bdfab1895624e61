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
  wait_for registry curl -fsS "http://$VF_REGISTRY/v2/"
  wait_for buildkitd buildctl debug workers
  wait_for "http server" curl -fsS "http://127.0.0.1:$VF_HTTP_PORT/"
  wait_for "flip server" curl -fsS -I "http://127.0.0.1:$VF_FLIP_PORT/x"
  wait_for dockerd /usr/bin/docker -H "$VF_DOCKER_HOST" version
  log "rig up: registry $VF_REGISTRY, buildkitd $VF_BUILDKIT_HOST, dockerd $VF_DOCKER_HOST, git :$VF_GIT_PORT, http :$VF_HTTP_PORT"
}

stop() {
  for name in buildkitd dockerd registry git http flip; do
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
