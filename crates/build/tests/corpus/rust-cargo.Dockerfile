FROM rust:1.80 as planner
WORKDIR /app
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=planner /app/target/release/server /usr/local/bin/server
STOPSIGNAL SIGINT
CMD server
