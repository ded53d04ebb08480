FROM busybox
COPY a.txt b.txt /dst/
COPY ["c d.txt", "/dst/"]
COPY --chown=app:app --chmod=755 bin/* /usr/local/bin/
COPY --link --from=alpine:3.20 /etc/alpine-release /etc/
COPY --parents src/**/*.go /src/
COPY --exclude=*.md --exclude=docs . /app
COPY dir1/ dir2/ /combined/
COPY file?.txt /q/
COPY [[]weird].txt /w/
