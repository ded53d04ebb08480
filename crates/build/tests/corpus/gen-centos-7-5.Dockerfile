FROM centos:7
RUN yum install -y tzdata openssl less \
    && echo installed-5
ENV APP_HOME=/opt/app5 LANG=C.UTF-8
WORKDIR $APP_HOME
COPY --chown=1005:1005 src/ ./src/
ADD vendor.tar.gz /opt/vendor/
VOLUME ["/data"]
HEALTHCHECK --interval=1m CMD test -f /tmp/ok
CMD ["./src/run", "--variant=5"]
