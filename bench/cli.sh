#!/usr/bin/env bash
# The berth CLI beside the stock docker CLI, both talking to the same berthd, so the ratio is the
# client's own cost (start-up, negotiation, request, output). Usage: bench/cli.sh [runs]
# Needs root, hyperfine, the docker CLI, and release builds:
#   cargo build --release -p berth-cli && cargo build -p berth-api --bins (or --release)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_need hyperfine
runs=${1:-30}
berth=${BERTH:-target/release/berth}
berthd=${BERTHD:-$( [ -x target/release/berthd ] && echo target/release/berthd || echo target/debug/berthd )}
monitor=${BERTH_MONITOR:-$(dirname "$berthd")/berth-monitor}
work=$(mktemp -d /tmp/bcb.XXXX)
cleanup() { [ -f "$work/pid" ] && kill "$(cat "$work/pid")" 2>/dev/null; sleep 0.5; rm -rf "$work"; }
trap cleanup EXIT

"$berthd" --data-root "$work/d" --exec-root "$work/e" -H "unix://$work/s" --pidfile "$work/pid" \
  --monitor-path "$monitor" --bridge none >"$work/log" 2>&1 &
for _ in $(seq 100); do [ -S "$work/s" ] && break; sleep 0.1; done
export DOCKER_HOST="unix://$work/s" DOCKER_CONFIG="$work/config"

# An offline busybox image (docker-archive made with tar), loaded once.
mkdir -p "$work/img/rootfs/bin" "$work/img/arch"
cp /bin/busybox "$work/img/rootfs/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$work/img/rootfs/bin/$a"; done
tar -C "$work/img/rootfs" --sort=name --numeric-owner -cf "$work/img/layer.tar" .
diff=$(sha256sum "$work/img/layer.tar" | cut -d' ' -f1)
mkdir "$work/img/arch/$diff" && mv "$work/img/layer.tar" "$work/img/arch/$diff/"
printf '{"architecture":"amd64","os":"linux","created":"2026-01-01T00:00:00Z","config":{"Env":["PATH=/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"2026-01-01T00:00:00Z","created_by":"bench"}]}' "$diff" >"$work/img/c.json"
cfg=$(sha256sum "$work/img/c.json" | cut -d' ' -f1)
mv "$work/img/c.json" "$work/img/arch/$cfg.json"
printf '[{"Config":"%s.json","RepoTags":["busybox:latest"],"Layers":["%s/layer.tar"]}]' "$cfg" "$diff" >"$work/img/arch/manifest.json"
tar -C "$work/img/arch" -cf "$work/busybox.tar" .
"$berth" load -i "$work/busybox.tar" >/dev/null
"$berth" create --name idle --network none busybox true >/dev/null

bench() { # name, args...
  local name=$1; shift
  hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/$name.json" \
    -n berth "$berth $*" -n docker "docker $*" >/dev/null
  python3 - "$work/$name.json" "$name" <<'PY'
import json, statistics, sys
r = {x["command"]: statistics.median(x["times"]) * 1000 for x in json.load(open(sys.argv[1]))["results"]}
print(f"{sys.argv[2]:<28} berth {r['berth']:8.2f} ms   docker {r['docker']:8.2f} ms   ratio {r['berth'] / r['docker']:.2f}x")
PY
}

echo "median of $runs runs, same berthd ($berthd), $(nproc) CPUs"
bench "version" version
bench "ps -a" ps -a
bench "images" images
bench "inspect -f" inspect -f '{{.Id}}' busybox
bench "run --rm --network none" run --rm --network none busybox true
