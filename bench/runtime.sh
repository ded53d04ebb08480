#!/usr/bin/env bash
# berth-runtime vs runc on the same busybox bundle: one `run` of `true` (hyperfine, median), the
# same with Docker's default seccomp profile (OCI form, amd64, default capabilities:
# crates/runtime/tests/data/docker-default-seccomp.json; both runtimes compile it), and 100
# sequential `true` containers. Prints the ratios (Berth / runc; lower is better).
# Usage: bench/runtime.sh [runs]   (root; release build)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_need runc hyperfine
[ "$(id -u)" = 0 ] || { echo "bench/runtime.sh: run as root" >&2; exit 1; }
runs=${1:-50}
repo=$PWD
cargo build --release -q -p berth-runtime
berth=$PWD/target/release/berth-runtime
runc=$(command -v runc)
work=$(mktemp -d /tmp/berth-bench-rt.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bundle/rootfs"/{bin,proc,sys,dev,etc,tmp}
cp /bin/busybox "$work/bundle/rootfs/bin/busybox"
for a in true sh; do ln -s busybox "$work/bundle/rootfs/bin/$a"; done
cd "$work/bundle"
"$berth" spec
profile=$repo/crates/runtime/tests/data/docker-default-seccomp.json python3 - <<'PY'
import json, os
profile = os.environ["profile"]
c = json.load(open("config.json"))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
json.dump(c, open("config.json", "w"), indent=2)
c["root"]["path"] = os.path.abspath("rootfs")
c["linux"]["seccomp"] = json.load(open(profile))
os.makedirs("../bundle-sc", exist_ok=True)
json.dump(c, open("../bundle-sc/config.json", "w"), indent=2)
PY
# both runtimes must succeed before timing
"$berth" --root "$work/berth" run check-berth
"$runc" --root "$work/runc" run check-runc
"$berth" --root "$work/berth" run --bundle "$work/bundle-sc" check-berth-sc
"$runc" --root "$work/runc" run --bundle "$work/bundle-sc" check-runc-sc

hyperfine -N --warmup 5 --runs "$runs" --export-json "$work/one.json" \
  -n berth "$berth --root $work/berth run bench-one" \
  -n runc "$runc --root $work/runc run bench-one"
hyperfine -N --warmup 5 --runs "$runs" --export-json "$work/seccomp.json" \
  -n berth "$berth --root $work/berth run --bundle $work/bundle-sc bench-sc" \
  -n runc "$runc --root $work/runc run --bundle $work/bundle-sc bench-sc"

cat > "$work/loop.sh" <<SH
#!/bin/sh
for i in \$(seq 100); do "\$1" --root "\$2" run "seq-\$i" || exit 1; done
SH
chmod +x "$work/loop.sh"
hyperfine -N --warmup 1 --runs 3 --export-json "$work/hundred.json" \
  -n berth "$work/loop.sh $berth $work/berth" \
  -n runc "$work/loop.sh $runc $work/runc"

python3 - "$work/one.json" "$work/seccomp.json" "$work/hundred.json" <<'PY'
import json, sys
# The machine is shared: wall-clock medians swing with load, so min and CPU time are shown too.
for path, label in [(sys.argv[1], "one run of true"),
                    (sys.argv[2], "one run of true, Docker's seccomp profile"),
                    (sys.argv[3], "100 sequential true containers")]:
    r = {x["command"]: x for x in json.load(open(path))["results"]}
    b, u = r["berth"], r["runc"]
    cpu = lambda x: x["user"] + x["system"]
    print(f"{label}: median berth {b['median']*1000:.1f} ms / runc {u['median']*1000:.1f} ms = {b['median']/u['median']:.3f}x;"
          f" min {b['min']*1000:.1f} / {u['min']*1000:.1f} ms = {b['min']/u['min']:.3f}x;"
          f" cpu {cpu(b)*1000:.1f} / {cpu(u)*1000:.1f} ms = {cpu(b)/cpu(u):.3f}x")
PY
