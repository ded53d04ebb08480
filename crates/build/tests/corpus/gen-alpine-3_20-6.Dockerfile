ARG IMG=alpine:3.20
FROM ${IMG} AS stage6
RUN apk add --no-cache openssl less \
    && echo installed-6
ENV APP_HOME /opt/app6
WORKDIR $APP_HOME
COPY --chown=1006:1006 src/ ./src/
LABEL org.example.variant="6" org.example.base="alpine:3.20"
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo variant 6"]
