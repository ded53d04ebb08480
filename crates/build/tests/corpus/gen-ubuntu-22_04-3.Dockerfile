ARG IMG=ubuntu:22.04
FROM ${IMG} AS stage3
RUN apt-get update && apt-get install -y jq ca-certificates tzdata \
    && echo installed-3
ENV APP_HOME=/opt/app3 LANG=C.UTF-8
WORKDIR $APP_HOME
COPY --chown=1003:1003 src/ ./src/
EXPOSE 8003 9003/udp
CMD ["./src/run", "--variant=3"]
