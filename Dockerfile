# Release build of the verified-frontend image, for linux/amd64 and linux/arm64.
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg RUST_IMAGE=rust:1-bookworm@sha256:<digest> -t <registry>/verified-frontend .
#
# The `binary` stage cross-compiles a static binary on the build platform for each target
# platform; the final stage is the whole image. Dockerfile.rego beside this file is the
# release policy: base images by digest only, the frontend image a signed release. The test
# rig, which cannot pull rust:*, builds the same final stage with `binary` replaced by a
# locally built binary (frontend/build.sh, named context `binary`).

# By digest, as Dockerfile.rego requires; the release workflow passes the digest it reviewed.
ARG RUST_IMAGE=rust:1-bookworm

FROM --platform=$BUILDPLATFORM ${RUST_IMAGE} AS binary
ARG TARGETARCH
RUN apt-get update && apt-get install -y --no-install-recommends protobuf-compiler \
      gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
    && rm -rf /var/lib/apt/lists/*
RUN rustup target add x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu
WORKDIR /src
COPY . .
# glibc's static libc (crt-static): the binary runs FROM scratch. Paths are remapped so the
# binary does not depend on where it was built (reproducible releases).
RUN case "$TARGETARCH" in \
      amd64) target=x86_64-unknown-linux-gnu ;; \
      arm64) target=aarch64-unknown-linux-gnu ;; \
      *) echo "unsupported TARGETARCH $TARGETARCH" >&2; exit 1 ;; \
    esac \
    && CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
       RUSTFLAGS="-C target-feature=+crt-static --remap-path-prefix=/src=. --remap-path-prefix=$CARGO_HOME=/cargo" \
       cargo build --release --locked --target "$target" \
    && mkdir /out && cp "target/$target/release/verified-frontend" /out/

FROM scratch AS image
COPY --from=binary /out/verified-frontend /bin/verified-frontend
# The frontend only talks to BuildKit over its stdin/stdout pipe; it needs no network.
LABEL moby.buildkit.frontend.network.none="true"
# Every capability a client may require of a Dockerfile frontend: requests are forwarded to
# BuildKit's own Dockerfile frontend, which implements them (frontend inputs, --call/--check
# subrequests, named build contexts, git query strings).
LABEL moby.buildkit.frontend.caps="moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts,moby.buildkit.frontend.gitquerystring"
ENTRYPOINT ["/bin/verified-frontend"]
