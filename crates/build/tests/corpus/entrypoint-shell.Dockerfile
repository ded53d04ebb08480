FROM alpine
ENTRYPOINT exec top -b
CMD ["-c"]
