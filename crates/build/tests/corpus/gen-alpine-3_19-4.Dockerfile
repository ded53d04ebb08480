FROM alpine:3.19
RUN apk add --no-cache ca-certificates tzdata openssl \
    && echo installed-4
ENV APP_HOME /opt/app4
WORKDIR $APP_HOME
COPY --chown=1004:1004 src/ ./src/
USER 1004
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo variant 4"]
