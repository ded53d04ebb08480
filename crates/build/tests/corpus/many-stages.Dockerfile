FROM alpine AS base
RUN apk add --no-cache bash
FROM base AS test
RUN echo test
FROM base AS lint
RUN echo lint
FROM base AS final
COPY --from=test /etc/hostname /tmp/a
COPY --from=lint /etc/hostname /tmp/b
COPY --from=0 /etc/os-release /tmp/c
