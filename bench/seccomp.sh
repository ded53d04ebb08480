#!/usr/bin/env bash
# What Docker's default seccomp profile costs a container start: `run --rm IMAGE true` with the
# default profile and with `--security-opt seccomp=unconfined` (interleaved, medians), on berthd
# and, when Debian's dockerd is installed, on dockerd beside it (the anchor; own roots, bridge
# and containerd namespace, --iptables=false). Prints each median, the profile's cost
# (default - unconfined) per engine and the ratio Berth / Docker.
# Usage: bench/seccomp.sh [runs]   (root; builds a release berthd unless BERTH_BENCH_SKIP_BUILD)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/seccomp.sh: run as root" >&2; exit 1; }
RUNS=${1:-30}
[ -n "${BERTH_BENCH_SKIP_BUILD:-}" ] || scripts/build-release -q
ROOT=$PWD
T=$(mktemp -d /tmp/berth-bench-seccomp.XXXXXX)
BR_B="sb$((RANDOM % 9000 + 1000))"
BR_D="sd$((RANDOM % 9000 + 1000))"
NET3=$((RANDOM % 150 + 50))
BPID=""
DPID=""
B="docker -H unix://$T/berth.sock"
D="docker -H unix://$T/docker.sock"

cleanup() {
    set +e
    for cli in "$B" "$D"; do
        $cli rm -f $($cli ps -aq 2>/dev/null) >/dev/null 2>&1
    done
    [ -n "$BPID" ] && kill "$BPID" && wait "$BPID" 2>/dev/null
    [ -n "$DPID" ] && kill "$DPID" && wait "$DPID" 2>/dev/null
    "$ROOT/target/release/berthd" --purge-network --data-root "$T/berth-data" \
        --exec-root "$T/berth-exec" --bridge "$BR_B" --bip "10.$NET3.1.1/24" >/dev/null 2>&1
    ip link del "$BR_D" 2>/dev/null
    grep " $T" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

# an offline busybox image: the host's static busybox as `true`
mkdir -p "$T/rootfs/bin" "$T/rootfs/etc" "$T/rootfs/proc" "$T/rootfs/sys" "$T/rootfs/dev" "$T/rootfs/tmp"
cp "$(command -v busybox)" "$T/rootfs/bin/busybox"
ln -s busybox "$T/rootfs/bin/true"
tar -C "$T/rootfs" -cf "$T/rootfs.tar" .

# RUNS interleaved pairs (default, unconfined), so load from elsewhere hits both alike; prints
# "median_default median_unconfined median_of_pair_differences" in ms
pairs() { # $1 = docker CLI
    python3 - "$RUNS" "$1" <<'PY'
import statistics, subprocess, sys, time
runs, cli = int(sys.argv[1]), sys.argv[2].split()
def once(opts):
    t = time.perf_counter()
    subprocess.run(cli + ["run", "--rm"] + opts + ["bench/busybox:latest", "true"], check=True)
    return (time.perf_counter() - t) * 1000
for _ in range(3):
    once([]), once(["--security-opt", "seccomp=unconfined"])
d, u = [], []
for _ in range(runs):
    d.append(once([]))
    u.append(once(["--security-opt", "seccomp=unconfined"]))
m = statistics.median
print("%.1f %.1f %.1f" % (m(d), m(u), m([a - b for a, b in zip(d, u)])))
PY
}

measure() { # $1 = name, $2 = docker CLI
    $2 import "$T/rootfs.tar" bench/busybox:latest >/dev/null
    $2 run --rm bench/busybox:latest true
    local def unc
    read -r def unc COST < <(pairs "$2")
    echo "$1: default profile $def ms, unconfined $unc ms (medians of $RUNS interleaved pairs), the profile costs $COST ms (median pair difference)"
}

"$ROOT/target/release/berthd" --data-root "$T/berth-data" --exec-root "$T/berth-exec" \
    -H "unix://$T/berth.sock" --pidfile "$T/berth.pid" --bridge "$BR_B" --bip "10.$NET3.1.1/24" \
    >"$T/berthd.log" 2>&1 &
BPID=$!
for _ in $(seq 100); do $B version >/dev/null 2>&1 && break; sleep 0.1; done
measure berth "$B"
COST_B=$COST

command -v dockerd >/dev/null || exit 0
ip link add "$BR_D" type bridge
ip addr add "10.$NET3.2.1/24" dev "$BR_D"
ip link set "$BR_D" up
dockerd --data-root "$T/docker-data" --exec-root "$T/docker-exec" --pidfile "$T/docker.pid" \
    -H "unix://$T/docker.sock" --bridge "$BR_D" --iptables=false --log-level error \
    --containerd-namespace "benchseccomp$NET3" >"$T/dockerd.log" 2>&1 &
DPID=$!
for _ in $(seq 150); do $D version >/dev/null 2>&1 && break; sleep 0.2; done
measure docker "$D"
python3 -c "import sys; b, d = float(sys.argv[1]), float(sys.argv[2]); print('profile cost Berth / Docker: ' + ('%.2f' % (b / d) if d > 0 else 'n/a'))" "$COST_B" "$COST"
