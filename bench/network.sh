#!/usr/bin/env bash
# Network attach/detach cost: Berth's library beside Docker's own cost for the same work.
#
# Berth: crates/network/examples/attach_bench (release build), N iterations with a 250 ms pause
#   between them (the kernel tears a namespace down in the background; a back-to-back run is
#   printed too), medians of
#   attach  = veth pair (peer created inside the namespace), address, MTU, default route,
#             DNS names, persisted IPAM;
#   release = the container stop path (release endpoints + remove the namespace; the kernel
#             destroys the veth pair with it);
#   detach  = synchronous disconnect of a running container (waits for the kernel's link
#             deletion, ~15-25 ms of RCU grace period on this kernel).
# Docker: median(`docker run --rm IMG true`) - median(`docker run --rm --network none IMG true`)
#   on a dockerd from Debian's docker.io started here with its own data root, exec root,
#   socket and bridge. Both sides create a network namespace either way; the difference is
#   what Docker spends on the endpoint (veth, IPAM, iptables, /etc files...).
#
# Usage: bench/network.sh [iterations]   (root; installs docker.io with apt when missing)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_need docker.io hyperfine
N=${1:-30}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d /tmp/berth-netbench.XXXXXX)
BR=bbench$$
BR=${BR:0:15}
DOCKER="docker -H unix://$T/docker.sock"

tables_before=$(nft list tables 2>/dev/null || true)
ipt_before=$(iptables-save 2>/dev/null || true)

cleanup() {
    set +e
    if [ -n "${DPID:-}" ]; then
        kill "$DPID" 2>/dev/null
        for _ in $(seq 100); do [ -e "/proc/$DPID" ] || break; sleep 0.2; done
    fi
    ip link del "$BR" 2>/dev/null
    # Undo dockerd's iptables: tables it created go, tables that existed get their old rules.
    nft list tables 2>/dev/null | while read -r _ fam name; do
        case "$name" in filter|nat|mangle|raw|security) ;; *) continue ;; esac
        if ! grep -qx "table $fam $name" <<<"$tables_before"; then nft delete table "$fam" "$name"; fi
    done
    if [ -n "$ipt_before" ]; then iptables-restore <<<"$ipt_before"; fi
    grep " $T" /proc/mounts | awk '{print $2}' | sort -r | xargs -r umount -l
    rm -rf "$T"
}
trap cleanup EXIT

echo "== Berth (release build of attach_bench, $N iterations)"
cargo build -q --release -p berth-network --example attach_bench --manifest-path "$ROOT/Cargo.toml"
BIN="$ROOT/target/release/examples/attach_bench"
"$BIN" "$N" | tee "$T/berth.txt"
BENCH_DETACH=1 "$BIN" "$N" | grep -E '^release_ms' | sed 's/^release_ms/detach_ms/' | tee -a "$T/berth.txt"
echo "-- back to back (no pause: the previous namespace's teardown still runs in the kernel)"
BENCH_GAP_MS=0 "$BIN" "$N" | grep -E '^(attach|release)_ms' | sed 's/^/b2b_/' | tee -a "$T/berth.txt"

echo "== Docker (dockerd from docker.io, own data root and bridge $BR)"
ip link add "$BR" type bridge
ip addr add 10.254.$((RANDOM % 200 + 20)).1/24 dev "$BR"
ip link set "$BR" up
dockerd --data-root "$T/data" --exec-root "$T/exec" --pidfile "$T/docker.pid" \
    -H "unix://$T/docker.sock" --bridge "$BR" --log-level error >"$T/dockerd.log" 2>&1 &
DPID=$!
for _ in $(seq 100); do $DOCKER version >/dev/null 2>&1 && break; sleep 0.2; done
$DOCKER version --format 'dockerd {{.Server.Version}}' || { cat "$T/dockerd.log"; exit 1; }
mkdir -p "$T/rootfs/bin"
cp "$(command -v busybox)" "$T/rootfs/bin/busybox"
ln -s busybox "$T/rootfs/bin/true"
tar -C "$T/rootfs" -c . | $DOCKER import - berthbench/busybox:latest >/dev/null
hyperfine -N --warmup 3 --runs "$N" --export-json "$T/docker.json" \
    "$DOCKER run --rm berthbench/busybox true" \
    "$DOCKER run --rm --network none berthbench/busybox true" >/dev/null

python3 - "$T/berth.txt" "$T/docker.json" <<'PY'
import json, sys
berth = dict(l.strip().split("=") for l in open(sys.argv[1]) if "=" in l)
res = json.load(open(sys.argv[2]))["results"]
with_net, none = (r["median"] * 1e3 for r in res)
docker = with_net - none
attach, release, detach = (float(berth[k]) for k in ("attach_ms", "release_ms", "detach_ms"))
print(f"docker run --rm (bridge)        median {with_net:8.2f} ms")
print(f"docker run --rm --network none  median {none:8.2f} ms")
print(f"Docker endpoint cost (difference)      {docker:8.2f} ms")
print(f"Berth attach                           {attach:8.3f} ms")
print(f"Berth attach + release (stop path)     {attach + release:8.3f} ms   ratio {(attach + release) / docker:.3f}x Docker")
print(f"Berth attach + synchronous detach      {attach + detach:8.3f} ms   ratio {(attach + detach) / docker:.3f}x Docker")
b2b = float(berth["b2b_attach_ms"]) + float(berth["b2b_release_ms"])
print(f"Berth attach + release, back to back   {b2b:8.3f} ms   ratio {b2b / docker:.3f}x Docker")
PY
