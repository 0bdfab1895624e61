# adv/base:a. Every field of the image config and the ONBUILD trigger differ from the
# other tag's, so a build shows whose config it got, not just whose files.
FROM scratch
COPY rootfs/ /
COPY which /which
ENV WHICH=a A_ONLY=1
LABEL which=a a.only=1
WORKDIR /work-a
SHELL ["/bin/sh", "-c"]
HEALTHCHECK --interval=31s --timeout=1s CMD echo healthy-a
STOPSIGNAL SIGUSR1
ENTRYPOINT ["/bin/echo", "entry-a"]
CMD ["cmd-a"]
USER 1001
ONBUILD RUN echo a > /out/onbuild.txt
