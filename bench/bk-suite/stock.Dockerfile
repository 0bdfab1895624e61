# BuildKit's own Dockerfile frontend as a gateway image: the baseline of bench/bk-suite.sh.
# The image of BuildKit v0.34.2's frontend/dockerfile/cmd/dockerfile-frontend/Dockerfile
# (`release` stage), made from the binary the rig builds from the same module.
FROM scratch
LABEL moby.buildkit.frontend.network.none="true"
LABEL moby.buildkit.frontend.caps="moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts,moby.buildkit.frontend.gitquerystring,moby.buildkit.frontend.contexts.zstd"
COPY dockerfile-frontend /bin/dockerfile-frontend
ENTRYPOINT ["/bin/dockerfile-frontend"]
