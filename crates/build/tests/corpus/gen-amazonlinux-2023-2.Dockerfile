FROM amazonlinux:2023
RUN yum install -y make jq ca-certificates \
    && echo installed-2
ENV APP_HOME /opt/app2
WORKDIR $APP_HOME
COPY --chown=1002:1002 src/ ./src/
LABEL org.example.variant="2" org.example.base="amazonlinux:2023"
HEALTHCHECK --interval=1m CMD test -f /tmp/ok
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo variant 2"]
