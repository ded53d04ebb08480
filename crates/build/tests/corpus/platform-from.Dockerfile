ARG TARGETPLATFORM=linux/amd64
FROM --platform=$BUILDPLATFORM golang:1.22 AS build
ARG TARGETOS TARGETARCH
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/app .
FROM --platform=${TARGETPLATFORM} alpine
COPY --from=build /out/app /bin/app
