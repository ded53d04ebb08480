FROM alpine
RUN <<EOF
#!/bin/sh
set -e
echo shebang
EOF
