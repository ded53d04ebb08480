FROM python:3.12
RUN <<EOF python3
import sys
print("hello from", sys.version)
EOF
