#!/usr/bin/env bash
# Remote build contexts for tests/contexts.rs, made from testdata/contexts: the git
# repository ctx.git (branches main and deny) served by the git daemon, and a tarball and a
# single Dockerfile served over HTTP. Called by fixtures.sh; can be rerun alone.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

src=$VF_ROOT/testdata/contexts
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

log "creating git repository ctx.git"
repo=$VF_RIG/git/ctx.git
rm -rf "$repo"
git init -q --bare -b main "$repo"
git init -q -b main "$work/clone"
cp -r "$src/repo/." "$work/clone/"
(
  cd "$work/clone"
  export GIT_AUTHOR_NAME=Tester GIT_AUTHOR_EMAIL=tester@example.com
  export GIT_COMMITTER_NAME=Tester GIT_COMMITTER_EMAIL=tester@example.com
  export GIT_AUTHOR_DATE="2026-01-02T00:00:00Z" GIT_COMMITTER_DATE="2026-01-02T00:00:00Z"
  git add -A && git commit -qm "context"
  git checkout -q -b deny
  echo "on the deny branch" >branch.txt
  git add branch.txt && git commit -qm "deny"
  git push -q "$repo" main deny
)
touch "$repo/git-daemon-export-ok"

log "writing http contexts"
mkdir -p "$VF_RIG/http/contexts"
tar --sort=name --mtime=2026-01-02T00:00:00Z --owner=0 --group=0 --numeric-owner \
  -C "$src/tar" -cf "$VF_RIG/http/contexts/ctx.tar" .
cp "$src/single/Dockerfile" "$VF_RIG/http/contexts/Dockerfile"
