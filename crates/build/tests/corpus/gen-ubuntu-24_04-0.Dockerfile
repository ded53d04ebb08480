ARG IMG=ubuntu:24.04
FROM ${IMG} AS stage0
RUN apt-get update && apt-get install -y curl git make \
    && echo installed-0
ENV APP_HOME /opt/app0
WORKDIR $APP_HOME
COPY --chown=1000:1000 src/ ./src/
VOLUME ["/data"]
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo variant 0"]
