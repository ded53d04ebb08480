ARG IMG=debian:bookworm-slim
FROM ${IMG} AS stage6
RUN apt-get update && apt-get install -y --no-install-recommends openssl less \
    && echo installed-6
ENV APP_HOME /opt/app6
WORKDIR $APP_HOME
COPY --chown=1006:1006 src/ ./src/
LABEL org.example.variant="6" org.example.base="debian:bookworm-slim"
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo variant 6"]
