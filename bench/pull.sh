#!/usr/bin/env bash
# Pull benchmark: a three-layer image of about 70 MB (a busybox base, a 50 MB incompressible
# file, 20k small files) in a local docker-registry, pulled and unpacked by Berth (the image
# library's `pull` example) and by `docker pull` (Debian's dockerd, started here on its own
# temporary root with --bridge none --iptables=false). Prints both times and the ratio; then
# checks that a second image sharing the base fetches none of the base's bytes.
# Needs root, docker.io, docker-registry, skopeo. Usage: bench/pull.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-2}
[ "$(id -u)" = 0 ] || { echo "bench/pull.sh: run as root" >&2; exit 1; }
for b in dockerd docker-registry skopeo; do
  command -v "$b" >/dev/null || { echo "bench/pull.sh: $b missing (scripts/install-deps)" >&2; exit 1; }
done
docker_cli=/usr/bin/docker
[ -x "$docker_cli" ] || docker_cli=$(command -v docker)

cargo build --release -q -p berth-image --example pull
berth_pull=$PWD/target/release/examples/pull

work=$(mktemp -d /var/tmp/berth-bench-pull.XXXXXX)
reg_pid= dockerd_pid=
cleanup() {
  [ -n "$dockerd_pid" ] && kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null || true
  [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null && wait "$reg_pid" 2>/dev/null || true
  umount -R "$work/docker" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
reg=127.0.0.1:$port
mkdir -p "$work/registry"
cat > "$work/registry.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: $reg}
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do curl -fsS "http://$reg/v2/" >/dev/null 2>&1 && break; sleep 0.1; done

# --- the image: three layers as a docker-archive, copied into the registry by skopeo
echo "building the image..."
mk_layer() { # dir -> prints diff id hex, leaves $work/layers/<hex>.tar
  local t=$work/layer.tar
  tar -C "$1" --sort=name --numeric-owner -cf "$t" .
  local h; h=$(sha256sum "$t" | cut -d' ' -f1)
  mkdir -p "$work/layers"; mv "$t" "$work/layers/$h.tar"; echo "$h"
}
mkdir -p "$work/l1/bin" "$work/l1/etc" "$work/l1/tmp" "$work/l2/data" "$work/l3/files" "$work/l4/extra"
cp /bin/busybox "$work/l1/bin/busybox"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$work/l1/bin/$a"; done
echo "root:x:0:0:root:/root:/bin/sh" > "$work/l1/etc/passwd"
head -c $((50 * 1024 * 1024)) /dev/urandom > "$work/l2/data/random.bin"
python3 - "$work/l3/files" <<'PY'
import os, sys
root = sys.argv[1]
for d in range(200):
    p = os.path.join(root, f"d{d:03}")
    os.mkdir(p)
    for f in range(100):
        with open(os.path.join(p, f"f{f:03}.txt"), "w") as fh:
            fh.write(f"file {d} {f}\n" * 4)
PY
echo "extra" > "$work/l4/extra/file"
d1=$(mk_layer "$work/l1"); d2=$(mk_layer "$work/l2"); d3=$(mk_layer "$work/l3"); d4=$(mk_layer "$work/l4")
mk_archive() { # name tag layer-hexes...
  local name=$1; shift; local out=$work/$name.tar a=$work/arch-$name
  mkdir -p "$a"
  local ids="" files=""
  for h in "$@"; do
    mkdir -p "$a/$h"; cp "$work/layers/$h.tar" "$a/$h/layer.tar"
    ids="$ids${ids:+,}\"sha256:$h\""; files="$files${files:+,}\"$h/layer.tar\""
  done
  printf '{"architecture":"amd64","os":"linux","created":"2026-01-01T00:00:00Z","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' "$ids" > "$a/config.json"
  local c; c=$(sha256sum "$a/config.json" | cut -d' ' -f1); mv "$a/config.json" "$a/$c.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":[%s]}]' "$c" "$name:1" "$files" > "$a/manifest.json"
  tar -C "$a" -cf "$out" .
  skopeo copy -q --dest-tls-verify=false "docker-archive:$out" "docker://$reg/bench/$name:1"
}
mk_archive app "$d1" "$d2" "$d3"
mk_archive app2 "$d1" "$d4"
du -sh "$work/registry" | awk '{print "registry holds " $1}'

# --- dockerd on its own roots
mkdir -p "$work/docker" "$work/docker-exec"
dockerd --data-root "$work/docker" --exec-root "$work/docker-exec" -H "unix://$work/docker.sock" \
  --pidfile "$work/docker.pid" --bridge none --iptables=false --ip6tables=false \
  --storage-driver overlay2 --insecure-registry "$reg" >"$work/dockerd.log" 2>&1 &
dockerd_pid=$!
dk() { "$docker_cli" -H "unix://$work/docker.sock" "$@"; }
for _ in $(seq 200); do dk version >/dev/null 2>&1 && break; sleep 0.1; done

now() { date +%s.%N; }
berth_times=() docker_times=()
for i in $(seq "$runs"); do
  rm -rf "$work/berth"; sync; echo 3 > /proc/sys/vm/drop_caches
  t0=$(now); "$berth_pull" "$work/berth" "$reg/bench/app:1" >/dev/null; t1=$(now)
  b=$(echo "$t1 - $t0" | bc)
  dk rmi -f "$reg/bench/app:1" >/dev/null 2>&1 || true
  sync; echo 3 > /proc/sys/vm/drop_caches
  t0=$(now); dk pull -q "$reg/bench/app:1" >/dev/null; t1=$(now)
  d=$(echo "$t1 - $t0" | bc)
  printf 'run %d: berth %.2fs  docker %.2fs\n' "$i" "$b" "$d"
  berth_times+=("$b"); docker_times+=("$d")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
best() { printf '%s\n' "$@" | sort -n | head -1; }
mb=$(median "${berth_times[@]}"); md=$(median "${docker_times[@]}")
bb=$(best "${berth_times[@]}"); bd=$(best "${docker_times[@]}")
printf 'pull of a 3-layer ~70 MB image, %d runs: median berth %.2fs, docker %.2fs, ratio %.2f; best berth %.2fs, docker %.2fs, ratio %.2f\n' \
  "$runs" "$mb" "$md" "$(echo "$mb / $md" | bc -l)" "$bb" "$bd" "$(echo "$bb / $bd" | bc -l)"

# --- a second image sharing the base: the base layer is not fetched again
out=$("$berth_pull" "$work/berth" "$reg/bench/app2:1")
echo "second image: $out"
echo "$out" | grep -q "1 layers fetched, 1 already present" || { echo "FAIL: the shared base was fetched again" >&2; exit 1; }
