#!/usr/bin/env bash
# The daemon benchmark: berthd beside dockerd (Debian's docker.io, started here on a temporary
# root with its own bridge) and podman (`--runtime runc`, own root), all driven by the same stock
# docker CLI (podman by its own CLI), same offline busybox image. Prints each figure and the
# ratio Berth / anchor:
#   1. `run --rm IMAGE true` latency (hyperfine median)          target <= 0.1x Docker
#   2. starting N detached `sleep` containers (rate)              target >= 10x Docker
#      (each round's per-run times and the host's mount count are printed as it ends)
#   3. extra memory per idle container (PSS of its monitor/shim/conmon + daemon growth / N)
#   4. daemon idle RSS (berthd; dockerd + containerd)             target < 20 MiB
#   5. `ps -a` with M containers (hyperfine median)
# Order: 2, 3, 4, then 1 and 5, so no section runs after another's mass removals (see
# bench_inode_probe in lib.sh).
# Usage: bench/run.sh [runs] [detached N] [ps M]   (root; builds a release berthd unless
# BERTH_BENCH_SKIP_BUILD is set)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench/run.sh: run as root" >&2; exit 1; }
RUNS=${1:-20}
N=${2:-100}
M=${3:-500}
ROUNDS=4
. bench/lib.sh
bench_need docker.io podman hyperfine
[ -n "${BERTH_BENCH_SKIP_BUILD:-}" ] || scripts/build-release -q
bench_init run b
PODMAN="podman --root $T/podman --runroot $RUN/podman-run --runtime runc --cgroup-manager cgroupfs --events-backend none"
bench_cleanup_more() {
    if command -v podman >/dev/null; then
        $PODMAN rm -af >/dev/null 2>&1
        $PODMAN system reset -f >/dev/null 2>&1
    fi
}
bench_rootfs # an offline busybox rootfs, imported into every engine

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
pss_kib() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }
pids_of() { # processes whose command line contains $1 and $2
    for p in /proc/[0-9]*; do
        if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q -- "$1" && tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -q -- "$2"; then
            basename "$p"
        fi
    done
}
sum_pss() { local s=0; for p in "$@"; do s=$((s + $(pss_kib "$p" 2>/dev/null || echo 0))); done; echo "$s"; }

echo "== Berth (release berthd, own bridge $BR_B)"
start_berthd
$B import "$T/rootfs.tar" bench/busybox:latest >/dev/null
$B run --rm bench/busybox true
sleep 1
B_IDLE=$(rss_kib "$BPID")

echo "== Docker (dockerd from docker.io, own roots and bridge $BR_D, --iptables=false)"
start_dockerd
$D import "$T/rootfs.tar" bench/busybox:latest >/dev/null
$D run --rm bench/busybox true
sleep 2
D_CONTAINERD=$(pgrep -P "$DPID" containerd | head -1 || true)
D_IDLE=$(( $(rss_kib "$DPID") + ${D_CONTAINERD:+$(rss_kib "$D_CONTAINERD")} + 0 ))

HAVE_PODMAN=0
if command -v podman >/dev/null; then
    HAVE_PODMAN=1
    $PODMAN import "$T/rootfs.tar" localhost/bench/busybox:latest >/dev/null
    $PODMAN run --rm --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 localhost/bench/busybox true
fi

bench_inode_probe
echo "== 2. $N detached containers (in $ROUNDS alternating rounds, so a drift of the machine's speed hits every engine alike)"
start_n() { # $1 = CLI, $2 = image, $3 = extra args, $4 = how many; prints seconds
    local t0 t1
    t0=$(date +%s.%N)
    for i in $(seq "$4"); do $1 run -d $3 "$2" sleep 100000 >/dev/null; done
    t1=$(date +%s.%N)
    awk "BEGIN {print $t1 - $t0}"
}
B_START=0; D_START=0; P_START=0
for r in $(seq "$ROUNDS"); do
    k=$(( N / ROUNDS + (r <= N % ROUNDS ? 1 : 0) ))
    b=$(start_n "$B" bench/busybox "" "$k")
    d=$(start_n "$D" bench/busybox "" "$k")
    B_START=$(awk "BEGIN {print $B_START + $b}")
    D_START=$(awk "BEGIN {print $D_START + $d}")
    if [ $HAVE_PODMAN = 1 ]; then
        P_START=$(awk "BEGIN {print $P_START + $(start_n "$PODMAN" localhost/bench/busybox "--ulimit nofile=20000:20000 --ulimit nproc=32768:32768" "$k")}")
    fi
    # the drift as containers (and host mounts) accumulate
    awk "BEGIN {printf \"   round %d (%d each): berth %.1f ms, docker %.1f ms per run -d; %d host mounts\\n\", $r, $k, $b * 1000 / $k, $d * 1000 / $k, $(wc -l </proc/self/mountinfo)}"
done
sleep 2
B_MON=$(sum_pss $(pids_of berth-monitor "$RUN/berth-exec"))
B_GROWN=$(( $(rss_kib "$BPID") - B_IDLE ))
D_SHIM=$(sum_pss $(pids_of containerd-shim "$DOCKER_NS"))
D_GROWN=$(( $(rss_kib "$DPID") + ${D_CONTAINERD:+$(rss_kib "$D_CONTAINERD")} + 0 - D_IDLE ))
P_MON=0
[ $HAVE_PODMAN = 1 ] && P_MON=$(sum_pss $(pids_of conmon "$T/podman"))

echo "== 1. run --rm true ($RUNS runs each; the detached containers stay until the end)"
cmds=("$B run --rm bench/busybox true" "$D run --rm bench/busybox true")
[ $HAVE_PODMAN = 1 ] && cmds+=("$PODMAN run --rm --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 localhost/bench/busybox true")
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$T/run.json" "${cmds[@]}" >/dev/null

echo "== 5. ps -a with $M containers"
for i in $(seq $((M - N))); do $B create bench/busybox true >/dev/null; done
for i in $(seq $((M - N))); do $D create bench/busybox true >/dev/null; done
hyperfine -N --warmup 2 --runs 10 --export-json "$T/ps.json" "$B ps -a" "$D ps -a" >/dev/null

python3 - "$T" "$N" "$M" "$B_START" "$D_START" "$P_START" "$B_MON" "$B_GROWN" "$D_SHIM" "$D_GROWN" "$P_MON" "$B_IDLE" "$D_IDLE" "$HAVE_PODMAN" <<'PY'
import json, sys
t, n, m = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
b_start, d_start, p_start = (float(x) for x in sys.argv[4:7])
b_mon, b_grown, d_shim, d_grown, p_mon, b_idle, d_idle = (int(x) for x in sys.argv[7:14])
podman = sys.argv[14] == "1"
run = [r["median"] * 1e3 for r in json.load(open(f"{t}/run.json"))["results"]]
ps = [r["median"] * 1e3 for r in json.load(open(f"{t}/ps.json"))["results"]]
print(f"1. run --rm true: berth {run[0]:.1f} ms, docker {run[1]:.1f} ms -> {run[0] / run[1]:.3f}x Docker", end="")
print(f"; podman {run[2]:.1f} ms -> {run[0] / run[2]:.3f}x" if podman else "")
rate = lambda s: n / s if s > 0 else 0
print(f"2. {n} x run -d: berth {b_start:.1f} s ({rate(b_start):.1f}/s), docker {d_start:.1f} s ({rate(d_start):.1f}/s) -> {rate(b_start) / rate(d_start):.1f}x Docker's rate", end="")
print(f"; podman {p_start:.1f} s -> {rate(b_start) / rate(p_start):.1f}x" if podman else "")
per_b = (b_mon + max(b_grown, 0)) / n
per_d = (d_shim + max(d_grown, 0)) / n
print(f"3. memory per idle container: berth {per_b:.0f} KiB (monitor PSS {b_mon / n:.0f} + daemon growth {b_grown / n:.0f}),"
      f" docker {per_d:.0f} KiB (shim PSS {d_shim / n:.0f} + dockerd/containerd growth {d_grown / n:.0f})", end="")
print(f", podman conmon PSS {p_mon / n:.0f} KiB" if podman else "")
print(f"4. daemon idle RSS: berthd {b_idle / 1024:.1f} MiB, dockerd + containerd {d_idle / 1024:.1f} MiB")
print(f"5. ps -a with {m} containers: berth {ps[0]:.1f} ms, docker {ps[1]:.1f} ms -> {ps[0] / ps[1]:.3f}x Docker")
PY
