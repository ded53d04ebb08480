FROM alpine:3.20
ADD rootfs.tar.gz /
ADD --chown=1000:1000 https://example.com/file.tgz /opt/
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/x /x
ADD --keep-git-dir=true https://github.com/moby/buildkit.git#v0.10.1 /buildkit
ADD ["file with spaces.txt", "/dest dir/"]
ADD --link conf/ /etc/app/
