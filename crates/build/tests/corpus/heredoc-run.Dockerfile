# syntax=docker/dockerfile:1.4
FROM busybox
RUN <<EOF
echo hello
mkdir -p /data
echo done > /data/state
EOF
RUN <<-EOT sh
	echo tabbed
	EOT
COPY <<EOF /etc/motd
Welcome to $HOSTNAME
EOF
COPY <<"RAW" /raw.txt
no $expansion here
RAW
