FROM redis:7
HEALTHCHECK --interval=10s --timeout=2s --start-period=5s --start-interval=1s --retries=5 \
  CMD ["redis-cli", "ping"]
HEALTHCHECK NONE
HEALTHCHECK CMD redis-cli ping || exit 1
