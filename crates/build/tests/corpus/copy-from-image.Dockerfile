FROM alpine
COPY --from=busybox:1.36 /bin/busybox /bin/busybox2
COPY --from=nginx:alpine /etc/nginx/nginx.conf /nginx.conf
