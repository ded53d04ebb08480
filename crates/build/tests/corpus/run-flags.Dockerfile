# syntax=docker/dockerfile:1
FROM golang:1.22
RUN --mount=type=cache,target=/root/.cache/go-build go build ./...
RUN --mount=type=secret,id=npmrc,target=/root/.npmrc --network=none npm ci
RUN --network=host apk add curl
RUN --security=insecure true
