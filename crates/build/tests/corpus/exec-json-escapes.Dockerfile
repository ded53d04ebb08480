FROM alpine
CMD ["sh", "-c", "echo \"quoted\" && echo 'single' \u0041"]
ENTRYPOINT ["/bin/echo", "tab\there"]
RUN ["/bin/sh", "-c", "echo ${HOME}"]
