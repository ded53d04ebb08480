FROM ubuntu:24.04
MAINTAINER Jane Doe <jane@example.com>
RUN groupadd -r app && useradd -r -g app app
USER app
USER app:app
USER 1000
WORKDIR /home/app
WORKDIR sub
WORKDIR $HOME/other
