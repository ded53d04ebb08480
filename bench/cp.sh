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
ROOT=$PWD
[ -n "${BERTH_BENCH_SKIP_BUILD:-}" ] || cargo build --release -q -p berth-api --bins
T=$(mktemp -d /tmp/berth-bench-cp.XXXXXX)
BR_B="cb$((RANDOM % 9000 + 1000))"
BR_D="cd$((RANDOM % 9000 + 1000))"
NET3=$((RANDOM % 150 + 50))
BPID=""
DPID=""
cleanup() {
    set +e
    DOCKER_HOST="unix://$T/berth.sock" docker rm -f $(DOCKER_HOST="unix://$T/berth.sock" docker ps -aq 2>/dev/null) >/dev/null 2>&1
    DOCKER_HOST="unix://$T/docker.sock" docker rm -f $(DOCKER_HOST="unix://$T/docker.sock" docker ps -aq 2>/dev/null) >/dev/null 2>&1
    [ -n "$BPID" ] && kill "$BPID" && wait "$BPID" 2>/dev/null
    [ -n "$DPID" ] && kill "$DPID" && wait "$DPID" 2>/dev/null
    "$ROOT/target/release/berthd" --purge-network --data-root "$T/berth-data" --exec-root "$T/berth-exec" \
        --bridge "$BR_B" --bip "10.$NET3.1.1/24" >/dev/null 2>&1
    ip link del "$BR_D" 2>/dev/null
    grep " $T" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

mkdir -p "$T/rootfs/bin" "$T/rootfs/etc" "$T/rootfs/proc" "$T/rootfs/sys" "$T/rootfs/dev" "$T/rootfs/tmp"
cp "$(command -v busybox)" "$T/rootfs/bin/busybox"
for a in true sleep sh; do ln -s busybox "$T/rootfs/bin/$a"; done
tar -C "$T/rootfs" -cf "$T/rootfs.tar" .
head -c $((64 << 20)) /dev/urandom >"$T/big"
mkdir -p "$T/out"

"$ROOT/target/release/berthd" --data-root "$T/berth-data" --exec-root "$T/berth-exec" \
    -H "unix://$T/berth.sock" --pidfile "$T/berth.pid" --bridge "$BR_B" --bip "10.$NET3.1.1/24" \
    >"$T/berthd.log" 2>&1 &
BPID=$!
B="docker -H unix://$T/berth.sock"
for _ in $(seq 100); do $B version >/dev/null 2>&1 && break; sleep 0.1; done
setup() { # $1 = CLI
    $1 import "$T/rootfs.tar" bench/busybox:latest >/dev/null
    $1 run -d --network none --name live bench/busybox sleep 100000 >/dev/null
    $1 create --network none --name stopped bench/busybox true >/dev/null
    $1 cp "$T/big" live:/big
}
setup "$B"

ip link add "$BR_D" type bridge
ip addr add "10.$NET3.2.1/24" dev "$BR_D"
ip link set "$BR_D" up
dockerd --data-root "$T/docker-data" --exec-root "$T/docker-exec" --pidfile "$T/docker.pid" \
    -H "unix://$T/docker.sock" --bridge "$BR_D" --iptables=false --log-level error \
    --containerd-namespace "benchcp$NET3" >"$T/dockerd.log" 2>&1 &
DPID=$!
D="docker -H unix://$T/docker.sock"
for _ in $(seq 150); do $D version >/dev/null 2>&1 && break; sleep 0.2; done
$D version --format 'dockerd {{.Server.Version}}' || { cat "$T/dockerd.log"; exit 1; }

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
