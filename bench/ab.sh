#!/usr/bin/env bash
# A/B of two builds of berthd on `docker run -d`: two daemons (their own roots, exec roots on a
# tmpfs, their own bridges), the same offline busybox image, N starts on each per round in
# alternating order, then every container removed and a pause for ext4's recently-freed-inode
# window (see bench_inode_probe in lib.sh) before the next round. Prints each round and the median
# of the paired differences: the VM's speed drifts by 2x within an hour here, so one run of
# each build says little. For a commit's effect: build it into another target dir, e.g.
#   git worktree add /tmp/base HEAD~1 && (cd /tmp/base && CARGO_TARGET_DIR=/tmp/base-target \
#     scripts/build-release)
#   bench/ab.sh /tmp/base-target/release target/release 20 8
# Usage: bench/ab.sh DIR_A DIR_B [N per round] [rounds]   (root)
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "bench/ab.sh: run as root" >&2; exit 1; }
A=$(realpath "$1"); B=$(realpath "$2"); N=${3:-20}; R=${4:-8}
T=$(mktemp -d /tmp/berth-ab.XXXXXX)
mkdir -p "$T/run" "$T/rootfs/bin" "$T/rootfs/etc" "$T/rootfs/proc" "$T/rootfs/sys" "$T/rootfs/dev" "$T/rootfs/tmp"
mount -t tmpfs berth-ab "$T/run"
cp "$(command -v busybox)" "$T/rootfs/bin/busybox"
for a in true sleep sh; do ln -s busybox "$T/rootfs/bin/$a"; done
tar -C "$T/rootfs" -cf "$T/rootfs.tar" .
NET=$((RANDOM % 100 + 100))
cli() { docker -H "unix://$T/$1.sock" "${@:2}"; }
cleanup() {
    set +e
    for x in a b; do
        ids=$(cli "$x" ps -aq 2>/dev/null); [ -n "$ids" ] && cli "$x" rm -f $ids >/dev/null 2>&1
        [ -f "$T/$x.pid" ] && kill "$(cat "$T/$x.pid")" 2>/dev/null
    done
    sleep 1
    "$A/berthd" --purge-network --data-root "$T/a-data" --exec-root "$T/run/a" --bridge "ab${NET}a" --bip "10.$NET.1.1/24" >/dev/null 2>&1
    "$B/berthd" --purge-network --data-root "$T/b-data" --exec-root "$T/run/b" --bridge "ab${NET}b" --bip "10.$NET.2.1/24" >/dev/null 2>&1
    grep " $T" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l
    rm -rf "$T"
}
trap cleanup EXIT
start() { # $1 = a|b, $2 = bin dir, $3 = third octet
    "$2/berthd" --data-root "$T/$1-data" --exec-root "$T/run/$1" -H "unix://$T/$1.sock" \
        --pidfile "$T/$1.pid" --bridge "ab${NET}$1" --bip "10.$NET.$3.1/24" >"$T/$1.log" 2>&1 &
    for _ in $(seq 100); do cli "$1" version >/dev/null 2>&1 && break; sleep 0.1; done
    cli "$1" import "$T/rootfs.tar" bb >/dev/null
    cli "$1" run --rm bb true
}
start a "$A" 1
start b "$B" 2
per_run() { # $1 = a|b: microseconds per `run -d`
    local t0
    t0=$(date +%s%N)
    for _ in $(seq "$N"); do cli "$1" run -d bb sleep 100000 >/dev/null; done
    echo $(( ($(date +%s%N) - t0) / N / 1000 ))
}
: >"$T/pairs"
for r in $(seq "$R"); do
    if [ $((r % 2)) = 1 ]; then ta=$(per_run a); tb=$(per_run b); else tb=$(per_run b); ta=$(per_run a); fi
    echo "round $r: A $ta us/run, B $tb us/run, B-A $((tb - ta)) us"
    echo "$ta $tb" >>"$T/pairs"
    for x in a b; do cli "$x" rm -f $(cli "$x" ps -aq) >/dev/null; done
    [ "$r" = "$R" ] || sleep 35
done
python3 - "$T/pairs" <<'PY'
import statistics as st, sys
p = [tuple(map(int, l.split())) for l in open(sys.argv[1])]
d = [b - a for a, b in p]
print(f"median A {st.median(a for a, _ in p) / 1000:.1f} ms, median B {st.median(b for _, b in p) / 1000:.1f} ms, "
      f"median(B-A) {st.median(d) / 1000:+.2f} ms, B faster in {sum(x < 0 for x in d)}/{len(d)} rounds")
PY
