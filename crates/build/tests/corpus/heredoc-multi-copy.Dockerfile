FROM alpine
COPY <<one <<two /files/
first file
one
second file
two
RUN cat /files/one /files/two
