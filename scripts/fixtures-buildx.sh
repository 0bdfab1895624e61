#!/usr/bin/env bash
# Test inputs for the differential harness against Buildx (tests/buildx_diff.rs), the source
# kinds the other fixtures lack, made here from Debian's busybox-static (nothing pulled):
#   diff/config:1    every config field a policy reads: USER, VOLUME, WORKDIR, ENV, labels
#                    (one of them empty)
#   diff/prov02:1    SLSA provenance v0.2, mode=max, with build args
#   diff/provmin:1   SLSA provenance v1, mode=min
#   diff/single:1    one platform, no attestations: a bare manifest, not an index
#   diff/variant:1   linux/amd64 and linux/arm/v7, for a platform variant
#   diff.git         commits signed with OpenPGP and SSH (the keys fixtures.sh minted), a
#                    merge commit, a subdirectory, multi-line messages, dates outside UTC
# Called by fixtures.sh after the keys exist; can be rerun alone (under the e2e lock).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
keys=$VF_RIG/keys
[ -f "$keys/signer.asc" ] || die "no keys in $keys: run scripts/fixtures.sh"

busybox_rootfs() { # dir
  mkdir -p "$1/bin" "$1/tmp" "$1/etc"
  cp /bin/busybox "$1/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$1/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$1/etc/passwd"
}

push() { # name, context dir, buildctl options...
  local name=$1 ctx=$2
  shift 2
  buildctl build --progress quiet --frontend dockerfile.v0 \
    --local context="$ctx" --local dockerfile="$ctx" "$@" \
    --output "type=image,name=$VF_REGISTRY/$name,push=true,oci-mediatypes=true"
}

log "pushing the diff/* images"
busybox_rootfs "$work/rootfs/rootfs"
cat >"$work/rootfs/Dockerfile" <<'DF'
FROM scratch
COPY rootfs/ /
ARG FLAVOR=none
ENV PATH=/bin GREETING="hello world"
LABEL org.opencontainers.image.title=diff flavor=$FLAVOR empty=""
WORKDIR /work
VOLUME ["/data", "/cache"]
USER 1000:1000
CMD ["/bin/sh"]
DF
push diff/config:1 "$work/rootfs" --opt platform=linux/amd64,linux/arm64
push diff/prov02:1 "$work/rootfs" --opt platform=linux/amd64 --opt build-arg:FLAVOR=v02 \
  --opt attest:provenance=mode=max,version=v0.2
push diff/provmin:1 "$work/rootfs" --opt platform=linux/amd64 --opt build-arg:FLAVOR=min \
  --opt attest:provenance=mode=min,version=v1
push diff/single:1 "$work/rootfs" --opt platform=linux/amd64
push diff/variant:1 "$work/rootfs" --opt platform=linux/amd64,linux/arm/v7

log "creating git repository diff.git"
repo=$VF_RIG/git/diff.git
rm -rf "$repo" "$work/clone"
git init -q --bare -b main "$repo"
git init -q -b main "$work/clone"
(
  cd "$work/clone"
  export GNUPGHOME=$keys/gnupg
  export GIT_AUTHOR_NAME="Ada Author" GIT_AUTHOR_EMAIL=ada@example.com
  export GIT_COMMITTER_NAME="Cy Committer" GIT_COMMITTER_EMAIL=cy@example.com
  at() { export GIT_AUTHOR_DATE="$1" GIT_COMMITTER_DATE="$2"; }
  at "2026-01-02T03:04:05+02:00" "2026-01-02T04:05:06-05:30"
  mkdir sub && echo "in a subdirectory" >sub/file.txt && echo root >root.txt
  git add . && git commit -qm "first" -m "A body line." -m "Signed-off-by: Ada Author <ada@example.com>"
  git tag -a plain-tag -m "an annotated tag" -m "with a second paragraph"
  at "2026-02-03T10:00:00Z" "2026-02-03T10:00:01Z"
  echo pgp >pgp.txt && git add pgp.txt
  git -c user.signingkey=signer@example.com commit -qS -m "signed with OpenPGP"
  git branch pgp-signed
  git -c user.signingkey=signer@example.com tag -s -m "signed tag on a signed commit" pgp-both
  at "2026-03-04T11:00:00+00:00" "2026-03-04T11:00:00+00:00"
  echo ssh >ssh.txt && git add ssh.txt
  git -c gpg.format=ssh -c user.signingkey="$keys/signer-ssh" commit -qS -m "signed with SSH"
  git branch ssh-signed
  git checkout -q -b side main~2
  echo side >side.txt && git add side.txt && git commit -qm "a side branch"
  git checkout -q main
  at "2026-04-05T12:00:00Z" "2026-04-05T12:00:00Z"
  git merge -q --no-ff -m "merge side" side
  git branch merge
  git push -q "$repo" main pgp-signed ssh-signed merge side plain-tag pgp-both
  gpgconf --kill all 2>/dev/null || true
)
touch "$repo/git-daemon-export-ok"
