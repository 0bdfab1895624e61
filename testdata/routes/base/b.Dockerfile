# adv/base:b. Every field of the image config and the ONBUILD trigger differ from the
# other tag's, so a build shows whose config it got, not just whose files.
FROM scratch
COPY rootfs/ /
COPY which /which
ENV WHICH=b B_ONLY=1
LABEL which=b b.only=1
WORKDIR /work-b
SHELL ["/bin/sh", "-ec"]
HEALTHCHECK --interval=32s --timeout=2s CMD echo healthy-b
STOPSIGNAL SIGUSR2
ENTRYPOINT ["/bin/echo", "entry-b"]
CMD ["cmd-b"]
USER 1002
ONBUILD RUN echo b > /out/onbuild.txt
