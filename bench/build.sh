#!/usr/bin/env bash
# Builder benchmark: Berth's builder against dockerd's legacy builder (Debian's docker.io, started
# here on its own data root, exec root, socket, no bridge). One Dockerfile with a RUN that writes
# files and a COPY of 1,000 small files; times a first build (no cache) and a no-change rebuild,
# medians of $RUNS runs, and prints Berth/Docker ratios.
#
# Berth side: the `bench_build` example of berth-build (the library, as the daemon will call it)
# until `POST /build` is served by berthd. Needs root, release builds:
#   cargo build --release -p berth-runtime --bins && cargo build --release -p berth-build --example bench_build
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
[ "$(id -u)" = 0 ] || { echo "bench/build.sh: run as root" >&2; exit 1; }
BENCH=target/release/examples/bench_build
export BERTH_RUNTIME=${BERTH_RUNTIME:-$PWD/target/release/berth-runtime}
for f in "$BENCH" "$BERTH_RUNTIME" /usr/sbin/dockerd /bin/busybox; do
  [ -x "$f" ] || { echo "bench/build.sh: missing $f (see the header)" >&2; exit 1; }
done
DOCKER=${DOCKER:-docker}

WORK=$(mktemp -d /var/tmp/berth-bench-build.XXXXXX)
DPID=""
cleanup() {
  if [ -n "$DPID" ]; then kill "$DPID" 2>/dev/null || true; wait "$DPID" 2>/dev/null || true; fi
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
"$BENCH" --data-root "$WORK/berth" --import-base "$WORK/busybox.tar" busybox:latest >/dev/null

# Let the disk settle between timed runs (this ext4 is mounted with `discard`: deleting
# written-back files queues TRIMs that slow whatever runs next).
settle() { sync; sleep 2; }
ms() { settle; local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@" >&2 || true; exit 1; }; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }

docker_build() { DOCKER_BUILDKIT=0 "$DOCKER" -H "unix://$SOCK" build --network none -q -t bench:docker "$@" "$CTX"; }
BERTH_ROOT="$WORK/berth"
# --via-api: the context goes as a tar through api::serve_build, as berthd's POST /build will.
berth_build() { "$BENCH" --data-root "$BERTH_ROOT" --context "$CTX" -t bench:berth -q --via-api "$@"; }

# Berth: the example reports when the build's stream ended (what a daemon's client waits for)
# and when its background removal of intermediate snapshots finished; the process wall time is
# measured too.
berth_timed() {
  local s e line
  settle
  s=$(date +%s%N)
  line=$(berth_build "$@" 2>&1 >/dev/null | grep '^built ') || { echo "berth build failed" >&2; berth_build "$@" >&2; exit 1; }
  e=$(date +%s%N)
  # built <id> in X ms (cleanup done at Y ms)
  echo "$(echo "$line" | awk '{print int($4)}') $(( (e - s) / 1000000 ))"
}

declare -A R
first=(); again=()
for _ in $(seq 1 "$RUNS"); do first+=("$(ms docker_build --no-cache)"); done
docker_build >/dev/null 2>&1
for _ in $(seq 1 "$RUNS"); do again+=("$(ms docker_build)"); done
R[docker.first]=$(printf '%s\n' "${first[@]}" | median)
R[docker.again]=$(printf '%s\n' "${again[@]}" | median)
first=(); firstwall=(); again=(); againwall=()
# Each first build gets a fresh store: Berth's content-addressed snapshots would otherwise skip
# unpacking a layer identical to one built before (Docker's --no-cache has no such reuse).
for i in $(seq 1 "$RUNS"); do
  BERTH_ROOT="$WORK/berth-first-$i"
  "$BENCH" --data-root "$BERTH_ROOT" --import-base "$WORK/busybox.tar" busybox:latest >/dev/null
  read -r a b < <(berth_timed --no-cache); first+=("$a"); firstwall+=("$b")
done
# (The fresh stores are deleted at exit: deleting here would queue TRIMs into the next run.)
BERTH_ROOT="$WORK/berth"
berth_build >/dev/null 2>&1
for _ in $(seq 1 "$RUNS"); do read -r a b < <(berth_timed); again+=("$a"); againwall+=("$b"); done
R[berth.first]=$(printf '%s\n' "${first[@]}" | median)
R[berth.firstwall]=$(printf '%s\n' "${firstwall[@]}" | median)
R[berth.again]=$(printf '%s\n' "${again[@]}" | median)
R[berth.againwall]=$(printf '%s\n' "${againwall[@]}" | median)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }'; }
echo "build benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, medians of $RUNS runs)"
printf '%-34s %10s %10s %8s\n' measure berth docker ratio
printf '%-34s %8sms %8sms %8s\n' "first build (no cache), stream end" "${R[berth.first]}" "${R[docker.first]}" "$(ratio "${R[berth.first]}" "${R[docker.first]}")"
printf '%-34s %8sms %8sms %8s\n' "first build, incl. cleanup+exit" "${R[berth.firstwall]}" "${R[docker.first]}" "$(ratio "${R[berth.firstwall]}" "${R[docker.first]}")"
printf '%-34s %8sms %8sms %8s\n' "no-change rebuild" "${R[berth.again]}" "${R[docker.again]}" "$(ratio "${R[berth.again]}" "${R[docker.again]}")"
printf '%-34s %8sms %8sms %8s\n' "no-change rebuild, process wall" "${R[berth.againwall]}" "${R[docker.again]}" "$(ratio "${R[berth.againwall]}" "${R[docker.again]}")"
