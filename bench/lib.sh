# Sourced by the bench scripts that run berthd beside dockerd (bench/cp.sh, bench/run.sh): a
# temporary root, an offline busybox rootfs, the two daemons started on their own roots and
# bridges, and a cleanup on exit that stops them and removes everything they made.
#
#   bench_init NAME LETTER  sets ROOT (the checkout), T (/tmp/berth-bench-NAME.XXXXXX), RUN ($T/run,
#                           a tmpfs for the daemons' exec roots, as /run is where they are deployed),
#                           BR_B and BR_D (bridges "<LETTER>b1234", "<LETTER>d1234"), NET3
#                           (10.NET3.1.0/24 for Berth, 10.NET3.2.0/24 for Docker), DOCKER_NS
#                           (dockerd's containerd namespace) and the EXIT trap. A script may define
#                           bench_cleanup_more, run by the trap before the temporary root is removed.
#   bench_inode_probe       prints what creating a file on the data roots' filesystem costs now
#   bench_rootfs            writes $T/rootfs.tar: busybox with true, sleep and sh.
#   start_berthd            starts target/release/berthd; sets BPID and B (the CLI on it).
#   start_dockerd           starts Debian's dockerd (--iptables=false); sets DPID and D.
#   bench_need PKG...       installs the Debian packages that are missing (the anchors and
#                           hyperfine are bench-only: scripts/install-deps leaves them out)

bench_need() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] ||
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

bench_init() { # $1 = script name, $2 = a letter for the bridge names
    ROOT=$PWD
    T=$(mktemp -d "/tmp/berth-bench-$1.XXXXXX")
    RUN="$T/run"
    mkdir -p "$RUN"
    mount -t tmpfs -o size=2g,mode=0755 "bench-$1" "$RUN"
    BR_B="$2b$((RANDOM % 9000 + 1000))"
    BR_D="$2d$((RANDOM % 9000 + 1000))"
    NET3=$((RANDOM % 150 + 50))
    DOCKER_NS="bench$1$NET3"
    BPID=""
    DPID=""
    trap bench_cleanup EXIT
}

bench_cleanup() {
    set +e
    # bounded: dockerd 20.10 once hung for 20 minutes in a `rm -f` of 600 containers
    DOCKER_HOST="unix://$T/berth.sock" timeout 300 docker rm -f $(DOCKER_HOST="unix://$T/berth.sock" docker ps -aq 2>/dev/null) >/dev/null 2>&1
    DOCKER_HOST="unix://$T/docker.sock" timeout 300 docker rm -f $(DOCKER_HOST="unix://$T/docker.sock" docker ps -aq 2>/dev/null) >/dev/null 2>&1
    [ -n "$BPID" ] && kill "$BPID" && wait "$BPID" 2>/dev/null
    [ -n "$DPID" ] && kill "$DPID" && wait "$DPID" 2>/dev/null
    # what a timed-out removal left: Docker's containers (cgroupfs driver: pids/docker/<id>)
    # and their shims
    for c in "$T"/docker-data/containers/*/; do
        c=$(basename "$c")
        [ -f "/sys/fs/cgroup/pids/docker/$c/cgroup.procs" ] &&
            xargs -r kill -9 <"/sys/fs/cgroup/pids/docker/$c/cgroup.procs" 2>/dev/null
    done
    pkill -9 -f "containerd-shim-runc-v2 -namespace $DOCKER_NS " 2>/dev/null
    "$ROOT/target/release/berthd" --purge-network --data-root "$T/berth-data" --exec-root "$RUN/berth-exec" \
        --bridge "$BR_B" --bip "10.$NET3.1.1/24" >/dev/null 2>&1
    ip link del "$BR_D" 2>/dev/null
    declare -F bench_cleanup_more >/dev/null && bench_cleanup_more
    grep " $T" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null
    rm -rf "$T"
}

bench_inode_probe() { # prints what a file creation costs on the data roots' filesystem now
    local d t0 t1
    d="$T/inode-probe"
    mkdir "$d"
    t0=$(date +%s%N)
    for i in $(seq 20); do : >"$d/f$i"; done
    t1=$(date +%s%N)
    echo "   (ext4 file creation under $T: $(( (t1 - t0) / 20000 )) us each; an unjournaled ext4 skips inodes freed in the last 1-6 minutes, so a recent mass removal makes this hundreds of us)"
}

bench_rootfs() {
    mkdir -p "$T/rootfs/bin" "$T/rootfs/etc" "$T/rootfs/proc" "$T/rootfs/sys" "$T/rootfs/dev" "$T/rootfs/tmp"
    cp "$(command -v busybox)" "$T/rootfs/bin/busybox"
    for a in true sleep sh; do ln -s busybox "$T/rootfs/bin/$a"; done
    tar -C "$T/rootfs" -cf "$T/rootfs.tar" .
}

start_berthd() {
    "$ROOT/target/release/berthd" --data-root "$T/berth-data" --exec-root "$RUN/berth-exec" \
        -H "unix://$T/berth.sock" --pidfile "$T/berth.pid" --bridge "$BR_B" --bip "10.$NET3.1.1/24" \
        >"$T/berthd.log" 2>&1 &
    BPID=$!
    B="docker -H unix://$T/berth.sock"
    for _ in $(seq 100); do $B version >/dev/null 2>&1 && break; sleep 0.1; done
}

start_dockerd() {
    ip link add "$BR_D" type bridge
    ip addr add "10.$NET3.2.1/24" dev "$BR_D"
    ip link set "$BR_D" up
    dockerd --data-root "$T/docker-data" --exec-root "$RUN/docker-exec" --pidfile "$T/docker.pid" \
        -H "unix://$T/docker.sock" --bridge "$BR_D" --iptables=false --log-level error \
        --containerd-namespace "$DOCKER_NS" >"$T/dockerd.log" 2>&1 &
    DPID=$!
    D="docker -H unix://$T/docker.sock"
    for _ in $(seq 150); do $D version >/dev/null 2>&1 && break; sleep 0.2; done
    $D version --format 'dockerd {{.Server.Version}}' || { cat "$T/dockerd.log"; exit 1; }
}
