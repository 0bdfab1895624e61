#!/usr/bin/env bash
# Creates the rig's test inputs, all made here: base images from Debian's busybox-static
# pushed as OCI indexes (nothing pulled), a git repository served by the git daemon, and
# files served over HTTP.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

push_image() { # name, context dir
  # Two platforms so every image is an index, as on Docker Hub. Only amd64 can run here;
  # the arm64 entry serves multi-platform builds that only copy files.
  printf 'FROM scratch\nCOPY rootfs/ /\nCMD ["/bin/sh"]\n' >"$2/Dockerfile"
  buildctl build --progress quiet --frontend dockerfile.v0 \
    --local context="$2" --local dockerfile="$2" \
    --opt platform=linux/amd64,linux/arm64 \
    --output "type=image,name=$VF_REGISTRY/$1,push=true,oci-mediatypes=true"
}

log "pushing base images"
mkdir -p "$work/busybox/rootfs/bin" "$work/busybox/rootfs/tmp" "$work/busybox/rootfs/etc"
cp /bin/busybox "$work/busybox/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -s busybox "$work/busybox/rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$work/busybox/rootfs/etc/passwd"
push_image busybox:latest "$work/busybox"
push_image busybox:stable "$work/busybox"
# Another busybox digest in the same repository, for `busybox:latest@<this digest>`.
echo "an older build" >"$work/busybox/rootfs/etc/old-build"
push_image busybox:old "$work/busybox"
rm "$work/busybox/rootfs/etc/old-build"

mkdir -p "$work/tools/rootfs/opt"
echo "tool v1" >"$work/tools/rootfs/opt/tool.txt"
push_image tools:1 "$work/tools"
mkdir -p "$work/tools2/rootfs/opt"
echo "tool v2" >"$work/tools2/rootfs/opt/tool.txt"
push_image tools:2 "$work/tools2"

# A base image whose ONBUILD trigger brings in another image: the trigger's source must
# reach the policy like any other.
mkdir -p "$work/onbuild"
printf 'FROM %s/busybox:latest\nONBUILD COPY --from=%s/tools:1 /opt/tool.txt /onbuild-tool.txt\n' \
  "$VF_REGISTRY" "$VF_REGISTRY" >"$work/onbuild/Dockerfile"
buildctl build --progress quiet --frontend dockerfile.v0 \
  --local context="$work/onbuild" --local dockerfile="$work/onbuild" \
  --opt platform=linux/amd64,linux/arm64 \
  --output "type=image,name=$VF_REGISTRY/onbuild:1,push=true,oci-mediatypes=true"

# An image with BuildKit's own SLSA provenance attached (attestation manifest in its index).
mkdir -p "$work/attested"
printf 'FROM %s/busybox:latest\nARG FLAVOR\nLABEL flavor=$FLAVOR\n' "$VF_REGISTRY" >"$work/attested/Dockerfile"
buildctl build --progress quiet --frontend dockerfile.v0 \
  --local context="$work/attested" --local dockerfile="$work/attested" \
  --opt platform=linux/amd64 --opt build-arg:FLAVOR=release \
  --opt attest:provenance=mode=max,version=v1 \
  --output "type=image,name=$VF_REGISTRY/attested:1,push=true,oci-mediatypes=true"

log "signing images with a throwaway Sigstore root"
# As docker/github-builder publishes: an image with SLSA provenance whose attestation
# manifest is signed (cosign v3 bundle, OCI 1.1 referrer). The trust root, its keys and the
# bundles are minted here; tests pass trusted_root.json with the trusted-root option.
source "$VF_ROOT/scripts/sigkit.sh"
sigkit=$(sigkit_build)
sigstore=$VF_RIG/sigstore
mkdir -p "$sigstore"
"$sigkit" mint-root --out "$sigstore" --force >/dev/null
push_attested() { # tag, label value
  buildctl build --progress quiet --frontend dockerfile.v0 \
    --local context="$work/attested" --local dockerfile="$work/attested" \
    --opt platform=linux/amd64 --opt build-arg:FLAVOR="$2" \
    --opt attest:provenance=mode=max,version=v1 \
    --output "type=image,name=$VF_REGISTRY/signed:$1,push=true,oci-mediatypes=true"
}
sign_attested() { # tag, sigkit sign options...
  local tag=$1
  shift
  local att
  read -r -a att <<<"$(attestation_manifest "$VF_REGISTRY" signed "$tag" linux/amd64)"
  # A fresh referrers index (sigkit.sh): BuildKit uses one signature per attestation
  # manifest, and signatures from an earlier run were made under a root that no longer exists.
  reset_referrers "$VF_REGISTRY" signed "${att[0]}"
  "$sigkit" sign --root "$sigstore" --digest "${SIGN_DIGEST:-${att[0]}}" \
    --subject-name "$VF_REGISTRY/signed" --out "$work/$tag.bundle.json" "$@" >/dev/null
  attach_bundle "$VF_REGISTRY" signed "${att[0]}" "${att[1]}" "${att[2]}" "$work/$tag.bundle.json" >/dev/null
}
release_ref=(--claim sourceRepositoryURI=https://github.com/example/app
  --claim sourceRepositoryRef=refs/tags/v1)
push_attested good release-good
sign_attested good --timestamp "${release_ref[@]}"
# Signed without a TSA timestamp: the log's integrated time is the only witness.
push_attested tlog-only release-tlog-only
sign_attested tlog-only "${release_ref[@]}"
# Signed by another workflow identity (the repository's own release workflow).
push_attested wrong-identity release-wrong-identity
sign_attested wrong-identity --timestamp "${release_ref[@]}" \
  --identity https://github.com/example/app/.github/workflows/release.yml@refs/tags/v1
# Signed by the builder, but for a branch build, not the release tag.
push_attested wrong-ref release-wrong-ref
sign_attested wrong-ref --timestamp --claim sourceRepositoryURI=https://github.com/example/app \
  --claim sourceRepositoryRef=refs/heads/dev
# A genuine signature over another image's attestation manifest, attached to this one.
push_attested other-digest release-other-digest
read -r -a good_att <<<"$(attestation_manifest "$VF_REGISTRY" signed good linux/amd64)"
SIGN_DIGEST=${good_att[0]} sign_attested other-digest --timestamp "${release_ref[@]}"
push_attested tampered release-tampered
sign_attested tampered "${release_ref[@]}" --tamper
# The certificate expired before the log saw the signature, and no TSA vouches otherwise.
push_attested expired release-expired
sign_attested expired "${release_ref[@]}" --expired
push_attested unsigned release-unsigned
# Signed, then the tag moved to an unsigned build (what a compromised pusher would do).
push_attested moved release-moved-original
sign_attested moved --timestamp "${release_ref[@]}"
push_attested moved release-moved-replacement
# Cosign's legacy format: a simplesigning payload naming the attestation manifest, signed
# directly, with certificate and Rekor SET in the layer's annotations, in a referrer.
sign_legacy_attested() { # tag, sigkit sign-legacy options...
  local tag=$1
  shift
  local att
  read -r -a att <<<"$(attestation_manifest "$VF_REGISTRY" signed "$tag" linux/amd64)"
  reset_referrers "$VF_REGISTRY" signed "${att[0]}"
  rm -rf "$work/$tag.legacy"
  "$sigkit" sign-legacy --root "$sigstore" --digest "${att[0]}" \
    --docker-reference "$VF_REGISTRY/signed" --out-dir "$work/$tag.legacy" "$@" >/dev/null
  attach_legacy "$VF_REGISTRY" signed "${att[0]}" "${att[1]}" "${att[2]}" "$work/$tag.legacy" >/dev/null
}
push_attested legacy release-legacy
sign_legacy_attested legacy "${release_ref[@]}"
push_attested legacy-tampered release-legacy-tampered
sign_legacy_attested legacy-tampered "${release_ref[@]}" --tamper

log "pushing BuildKit's Dockerfile frontend as an image"
mkdir -p "$work/dockerfile/rootfs/bin"
cp "$VF_RIG/bin/dockerfile-frontend" "$work/dockerfile/rootfs/bin/dockerfile-frontend"
cat >"$work/dockerfile/Dockerfile" <<'DF'
FROM scratch
COPY rootfs/ /
LABEL moby.buildkit.frontend.network.none="true"
LABEL moby.buildkit.frontend.caps="moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts,moby.buildkit.frontend.gitquerystring"
ENTRYPOINT ["/bin/dockerfile-frontend"]
DF
buildctl build --progress quiet --frontend dockerfile.v0 \
  --local context="$work/dockerfile" --local dockerfile="$work/dockerfile" \
  --output "type=image,name=$VF_REGISTRY/dockerfile:local,push=true,oci-mediatypes=true"

log "creating git repository hello.git"
repo=$VF_RIG/git/hello.git
rm -rf "$repo" "$work/clone"
git init -q --bare -b main "$repo"
git init -q -b main "$work/clone"
(
  cd "$work/clone"
  export GIT_AUTHOR_NAME=Tester GIT_AUTHOR_EMAIL=tester@example.com
  export GIT_COMMITTER_NAME=Tester GIT_COMMITTER_EMAIL=tester@example.com
  export GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z"
  echo "hello from git v1" >hello.txt
  git add hello.txt && git commit -qm "v1"
  git tag -a v1 -m "release v1"
  git tag light-v1
  echo "hello from git main" >hello.txt
  git commit -qam "main"
  git push -q "$repo" main v1 light-v1

  # Signed tags, by throwaway keys minted here: OpenPGP and SSH by "signer", OpenPGP by
  # "other". The public keys go to $VF_RIG/keys for the policies that verify them.
  keys=$VF_RIG/keys
  rm -rf "$keys" && mkdir -p "$keys/gnupg" && chmod 700 "$keys/gnupg"
  export GNUPGHOME=$keys/gnupg
  for who in signer other; do
    gpg --batch --quiet --passphrase '' --quick-gen-key "$who <$who@example.com>" ed25519 sign never 2>/dev/null
    gpg --batch --armor --export "$who@example.com" >"$keys/$who.asc"
  done
  ssh-keygen -q -t ed25519 -N '' -C signer -f "$keys/signer-ssh"
  cp "$keys/signer-ssh.pub" "$keys/signer.pub"
  git -c user.signingkey=signer@example.com tag -s -m "release v2 (pgp)" v2-pgp
  git -c gpg.format=ssh -c user.signingkey="$keys/signer-ssh" tag -s -m "release v2 (ssh)" v2-ssh
  git -c user.signingkey=other@example.com tag -s -m "release v2 (other key)" v2-other
  git push -q "$repo" v2-pgp v2-ssh v2-other
  gpgconf --kill all 2>/dev/null || true
)
touch "$repo/git-daemon-export-ok"

log "writing http files"
echo "hello from http" >"$VF_RIG/http/hello.txt"
# Detached signatures over it, by the keys minted above, for verify_http_pgp_signature.
(
  export GNUPGHOME=$VF_RIG/keys/gnupg
  gpg --batch --yes --local-user signer@example.com --armor --detach-sign \
    -o "$VF_RIG/keys/hello.txt.asc" "$VF_RIG/http/hello.txt"
  gpg --batch --yes --local-user other@example.com --armor --detach-sign \
    -o "$VF_RIG/keys/hello.txt.other.asc" "$VF_RIG/http/hello.txt"
  echo "not what was served" | gpg --batch --yes --local-user signer@example.com --armor \
    --detach-sign -o "$VF_RIG/keys/other-content.asc"
  gpgconf --kill all 2>/dev/null || true
)
bash "$VF_ROOT/scripts/fixtures-routes.sh"
bash "$VF_ROOT/scripts/fixtures-binding.sh"
bash "$VF_ROOT/scripts/fixtures-buildx.sh"
bash "$VF_ROOT/scripts/fixtures-contexts.sh"
