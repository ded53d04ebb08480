FROM debian:12
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN set -eux; curl -fsSL https://example.com | tee /tmp/x | wc -l
SHELL ["/bin/sh", "-c"]
RUN echo back to sh
