ARG IMAGE=busybox:latest
FROM $IMAGE
RUN echo ok
