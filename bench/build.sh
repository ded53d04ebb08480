#!/usr/bin/env bash
# Builder benchmark: Berth's builder against dockerd's legacy builder (Debian's docker.io, started
# here on its own data root, exec root, socket, no bridge). One Dockerfile with a RUN that writes
# files and a COPY of 1,000 small files; times a first build (no cache) and a no-change rebuild,
# medians of $RUNS runs, and prints Berth/Docker ratios.
#
# Berth side: berthd (release build) on its own roots, driven by the same stock docker CLI
# (`DOCKER_BUILDKIT=0 docker build`, POST /build), and the no-change rebuild also by the berth
# CLI (`berth build`). The clients' own floors (walking, tarring and sending the context) are
# timed against a stand-in daemon that builds nothing (bench/build-dummy-daemon.py, python3).
# Needs root, release builds:
#   cargo build --release -p berth-api --bins -p berth-runtime --bins -p berth-cli --bins
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
[ "$(id -u)" = 0 ] || { echo "bench/build.sh: run as root" >&2; exit 1; }
BERTHD=${BERTHD:-$PWD/target/release/berthd}
BERTH=${BERTH:-$PWD/target/release/berth}
export BERTH_RUNTIME=${BERTH_RUNTIME:-$PWD/target/release/berth-runtime}
for f in "$BERTHD" "$BERTH" "$BERTH_RUNTIME" /usr/sbin/dockerd /bin/busybox; do
  [ -x "$f" ] || { echo "bench/build.sh: missing $f (see the header)" >&2; exit 1; }
done
DOCKER=${DOCKER:-docker}

WORK=$(mktemp -d /var/tmp/berth-bench-build.XXXXXX)
DPID=""
BPID=""
NPID=""
cleanup() {
  if [ -n "$NPID" ]; then kill "$NPID" 2>/dev/null || true; wait "$NPID" 2>/dev/null || true; fi
  if [ -n "$DPID" ]; then kill "$DPID" 2>/dev/null || true; wait "$DPID" 2>/dev/null || true; fi
  if [ -n "$BPID" ]; then kill "$BPID" 2>/dev/null || true; wait "$BPID" 2>/dev/null || true; fi
  grep " $WORK/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# A busybox root filesystem as a tarball, imported into both engines as busybox:latest.
mkdir -p "$WORK/rootfs/bin" "$WORK/rootfs/etc" "$WORK/rootfs/tmp" "$WORK/rootfs/root"
cp /bin/busybox "$WORK/rootfs/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$WORK/rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$WORK/rootfs/etc/passwd"
printf 'root:x:0:\n' > "$WORK/rootfs/etc/group"
tar -C "$WORK/rootfs" --numeric-owner -cf "$WORK/busybox.tar" .

# The context.
CTX="$WORK/context"
mkdir -p "$CTX/files"
for i in $(seq 1 1000); do echo "small file $i" > "$CTX/files/f$i.txt"; done
cat > "$CTX/Dockerfile" <<'DOCKERFILE'
FROM busybox
RUN mkdir -p /data && for i in $(seq 1 200); do echo "line $i" > /data/f$i; done
COPY files/ /files/
CMD ["sh"]
DOCKERFILE

# dockerd on private roots.
SOCK="$WORK/docker.sock"
/usr/sbin/dockerd --data-root "$WORK/docker" --exec-root "$WORK/docker-exec" -H "unix://$SOCK" \
  --pidfile "$WORK/docker.pid" --bridge none --iptables=false --ip-masq=false \
  >"$WORK/dockerd.log" 2>&1 &
DPID=$!
for _ in $(seq 1 100); do "$DOCKER" -H "unix://$SOCK" version >/dev/null 2>&1 && break; sleep 0.2; done
"$DOCKER" -H "unix://$SOCK" version >/dev/null 2>&1 || { echo "dockerd did not start:"; tail "$WORK/dockerd.log"; exit 1; }
"$DOCKER" -H "unix://$SOCK" import -c 'CMD ["sh"]' "$WORK/busybox.tar" busybox:latest >/dev/null

# berthd on private roots (no default bridge: builds use --network none), busybox imported.
BSOCK="$WORK/berth.sock"
start_berthd() {
  local root=$1
  "$BERTHD" --data-root "$root" --exec-root "$root-exec" -H "unix://$BSOCK" \
    --pidfile "$root.pid" --bridge none >"$root.log" 2>&1 &
  BPID=$!
  for _ in $(seq 1 100); do "$DOCKER" -H "unix://$BSOCK" version >/dev/null 2>&1 && break; sleep 0.1; done
  "$DOCKER" -H "unix://$BSOCK" version >/dev/null 2>&1 || { echo "berthd did not start:"; tail "$root.log"; exit 1; }
  "$DOCKER" -H "unix://$BSOCK" import -c 'CMD ["sh"]' "$WORK/busybox.tar" busybox:latest >/dev/null
}
stop_berthd() { kill "$BPID"; wait "$BPID" 2>/dev/null || true; BPID=""; }

# Let the disk settle between timed runs (this ext4 is mounted with `discard`: deleting
# written-back files queues TRIMs that slow whatever runs next).
settle() { sync; sleep 2; }
ms() { settle; local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@" >&2 || true; exit 1; }; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }

docker_build() { DOCKER_BUILDKIT=0 "$DOCKER" -H "unix://$SOCK" build --network none -q -t bench:docker "$@" "$CTX"; }
berth_build() { DOCKER_BUILDKIT=0 "$DOCKER" -H "unix://$BSOCK" build --network none -q -t bench:berth "$@" "$CTX"; }
berth_cli_build() { "$BERTH" -H "unix://$BSOCK" build --network none -q -t bench:berth "$@" "$CTX"; }

declare -A R
first=(); again=()
for _ in $(seq 1 "$RUNS"); do first+=("$(ms docker_build --no-cache)"); done
docker_build >/dev/null 2>&1
for _ in $(seq 1 "$RUNS"); do again+=("$(ms docker_build)"); done
R[docker.first]=$(printf '%s\n' "${first[@]}" | median)
R[docker.again]=$(printf '%s\n' "${again[@]}" | median)
first=(); again=()
# Each first build gets a fresh daemon and store: Berth's content-addressed snapshots would
# otherwise skip unpacking a layer identical to one built before (Docker's --no-cache has no
# such reuse). The CLI returns when the build's stream ends; step snapshots are removed by the
# daemon in the background.
for i in $(seq 1 "$RUNS"); do
  start_berthd "$WORK/berth-first-$i"
  first+=("$(ms berth_build --no-cache)")
  stop_berthd
done
# (The fresh stores are deleted at exit: deleting here would queue TRIMs into the next run.)
start_berthd "$WORK/berth"
berth_build >/dev/null 2>&1
for _ in $(seq 1 "$RUNS"); do again+=("$(ms berth_build)"); done
R[berth.first]=$(printf '%s\n' "${first[@]}" | median)
R[berth.again]=$(printf '%s\n' "${again[@]}" | median)
again=()
for _ in $(seq 1 "$RUNS"); do again+=("$(ms berth_cli_build)"); done
R[berth.cli]=$(printf '%s\n' "${again[@]}" | median)

# The clients alone: the same command against a daemon that does nothing.
NSOCK="$WORK/dummy.sock"
if command -v python3 >/dev/null; then
  python3 bench/build-dummy-daemon.py "$NSOCK" 2>/dev/null &
  NPID=$!
  for _ in $(seq 1 50); do [ -S "$NSOCK" ] && break; sleep 0.1; done
  floor=(); bfloor=()
  for _ in $(seq 1 "$RUNS"); do
    floor+=("$(ms env DOCKER_BUILDKIT=0 "$DOCKER" -H "unix://$NSOCK" build --network none -q -t x "$CTX")")
    bfloor+=("$(ms "$BERTH" -H "unix://$NSOCK" build --network none -q -t x "$CTX")")
  done
  R[floor.docker]=$(printf '%s\n' "${floor[@]}" | median)
  R[floor.berth]=$(printf '%s\n' "${bfloor[@]}" | median)
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }'; }
echo "build benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, medians of $RUNS runs)"
printf '%-34s %10s %10s %8s\n' measure berth docker ratio
printf '%-34s %8sms %8sms %8s\n' "first build (no cache), docker CLI" "${R[berth.first]}" "${R[docker.first]}" "$(ratio "${R[berth.first]}" "${R[docker.first]}")"
printf '%-34s %8sms %8sms %8s\n' "no-change rebuild, docker CLI" "${R[berth.again]}" "${R[docker.again]}" "$(ratio "${R[berth.again]}" "${R[docker.again]}")"
printf '%-34s %8sms %8sms %8s\n' "no-change rebuild, berth CLI" "${R[berth.cli]}" "${R[docker.again]}" "$(ratio "${R[berth.cli]}" "${R[docker.again]}")"
if [ -n "${R[floor.docker]:-}" ]; then
  echo "client floors (the same command against a daemon that builds nothing):"
  printf '  %-32s %8sms\n' "docker CLI" "${R[floor.docker]}" "berth CLI" "${R[floor.berth]}"
fi
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
