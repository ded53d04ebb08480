ARG IMG=busybox:1.36
FROM ${IMG} AS stage6
RUN true openssl less \
    && echo installed-6
ENV APP_HOME /opt/app6
WORKDIR $APP_HOME
COPY --chown=1006:1006 src/ ./src/
LABEL org.example.variant="6" org.example.base="busybox:1.36"
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo variant 6"]
