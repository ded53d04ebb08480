#!/usr/bin/env bash
# Images from containers: berthd beside dockerd (Debian's docker.io, started here on a temporary
# root with its own bridge), both driven by the stock docker CLI on the same offline busybox
# image. Times with hyperfine (median) and prints each ratio Berth / Docker:
#   1. `docker cp` of a 64 MiB file into a running container
#   2. `docker cp` of that file out again
#   3. `docker cp` into a stopped container (Berth mounts its snapshot for the call)
#   4. `docker export` of the container
#   5. `docker diff`
#   6. `docker commit`
# Usage: bench/cp.sh [runs]   (root; builds a release berthd unless BERTH_BENCH_SKIP_BUILD is set)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/cp.sh: run as root" >&2; exit 1; }
RUNS=${1:-10}
[ -n "${BERTH_BENCH_SKIP_BUILD:-}" ] || scripts/build-release -q
. bench/lib.sh
bench_need docker.io hyperfine
bench_init cp c
bench_rootfs
head -c $((64 << 20)) /dev/urandom >"$T/big"
mkdir -p "$T/out"

start_berthd
setup() { # $1 = CLI
    $1 import "$T/rootfs.tar" bench/busybox:latest >/dev/null
    $1 run -d --network none --name live bench/busybox sleep 100000 >/dev/null
    $1 create --network none --name stopped bench/busybox true >/dev/null
    $1 cp "$T/big" live:/big
}
setup "$B"

start_dockerd

setup "$D"

hf() { # $1 = name, then the two commands
    local name=$1
    shift
    hyperfine -N --warmup 2 --runs "$RUNS" --export-json "$T/$name.json" "$@" >/dev/null
}
hf cp-in "$B cp $T/big live:/tmp/big" "$D cp $T/big live:/tmp/big"
hf cp-out "$B cp live:/big $T/out/b" "$D cp live:/big $T/out/d"
hf cp-stopped "$B cp $T/big stopped:/tmp/big" "$D cp $T/big stopped:/tmp/big"
hf export "$B export -o $T/out/b.tar live" "$D export -o $T/out/d.tar live"
hf diff "$B diff live" "$D diff live"
hf commit "$B commit live bench/committed" "$D commit live bench/committed"

python3 - "$T" <<'PY'
import json, sys
t = sys.argv[1]
for i, (name, what) in enumerate([
    ("cp-in", "cp 64 MiB into a running container"),
    ("cp-out", "cp 64 MiB out of a running container"),
    ("cp-stopped", "cp 64 MiB into a stopped container"),
    ("export", "export (64 MiB + busybox)"),
    ("diff", "diff"),
    ("commit", "commit (64 MiB layer)"),
], 1):
    b, d = (r["median"] * 1e3 for r in json.load(open(f"{t}/{name}.json"))["results"])
    print(f"{i}. {what}: berth {b:.1f} ms, docker {d:.1f} ms -> {b / d:.2f}x Docker")
PY
