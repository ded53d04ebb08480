FROM alpine
RUN echo $HTTP_PROXY $http_proxy $NO_PROXY
ARG HTTPS_PROXY
RUN wget -q https://example.com
