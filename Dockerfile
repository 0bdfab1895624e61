# Release build of the verified-frontend image.
#
#   docker buildx build -t <registry>/verified-frontend .
#
# The `binary` stage compiles a static binary; the final stage is the whole image. The test
# rig, which cannot pull rust:*, builds the same final stage with `binary` replaced by a
# locally built binary (frontend/build.sh, named context `binary`).

FROM rust:1-bookworm AS binary
RUN apt-get update && apt-get install -y --no-install-recommends protobuf-compiler \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# glibc's static libc (crt-static): the binary runs FROM scratch.
RUN RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked --target x86_64-unknown-linux-gnu \
    && mkdir /out && cp target/x86_64-unknown-linux-gnu/release/verified-frontend /out/

FROM scratch AS image
COPY --from=binary /out/verified-frontend /bin/verified-frontend
# The frontend only talks to BuildKit over its stdin/stdout pipe; it needs no network.
LABEL moby.buildkit.frontend.network.none="true"
# Every capability a client may require of a Dockerfile frontend: requests are forwarded to
# BuildKit's own Dockerfile frontend, which implements them (frontend inputs, --call/--check
# subrequests, named build contexts, git query strings).
LABEL moby.buildkit.frontend.caps="moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts,moby.buildkit.frontend.gitquerystring"
ENTRYPOINT ["/bin/verified-frontend"]
