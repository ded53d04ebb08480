FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends git make jq \
    && echo installed-1
ENV APP_HOME=/opt/app1 LANG=C.UTF-8
WORKDIR $APP_HOME
COPY --chown=1001:1001 src/ ./src/
ADD vendor.tar.gz /opt/vendor/
USER 1001
CMD ["./src/run", "--variant=1"]
