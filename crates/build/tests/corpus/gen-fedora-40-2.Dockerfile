FROM fedora:40
RUN dnf install -y make jq ca-certificates \
    && echo installed-2
ENV APP_HOME /opt/app2
WORKDIR $APP_HOME
COPY --chown=1002:1002 src/ ./src/
LABEL org.example.variant="2" org.example.base="fedora:40"
HEALTHCHECK --interval=1m CMD test -f /tmp/ok
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo variant 2"]
