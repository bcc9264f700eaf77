#!/usr/bin/env bash
# Builds the binary of `cargo xtask gpu-check` for a GPU machine that has no Rust toolchain:
# xtask with `--features cuda` (burn-cuda with fusion and autotune; libcuda and NVRTC are
# loaded at run time, so nothing CUDA is needed here), the CUDA API pinned to 13.0 (the
# driver's major version decides which `libnvrtc.so.N` is looked for), stripped, checked to
# start and to report a missing GPU as a typed error, and gzipped into the git-ignored folder
# gpu-bin/ (the stripped binary is about 65 MB, over the 64 MiB a device run carries with
# the repo; gzip takes it to about a third). Prints the command to run there.
set -euo pipefail
cd "$(dirname "$0")/.."
CUDARC_CUDA_VERSION="${CUDARC_CUDA_VERSION:-13000}" cargo build --release -p xtask --features cuda
stripped=target/gpu-check/xtask
mkdir -p target/gpu-check gpu-bin
cp target/release/xtask "$stripped"
strip "$stripped"
# It must start, and report the missing GPU here as a typed error, not a panic.
log=target/gpu-check/local.txt
if "$stripped" gpu-check --out target/gpu-check/local --budget-s 5 > "$log" 2>&1; then
    echo "found a GPU here: $(head -1 "$log")"
elif ! grep -q "no usable CUDA device" "$log"; then
    cat "$log" >&2
    echo "$stripped failed without the typed no-GPU error" >&2
    exit 1
fi
gzip -9 -c "$stripped" > gpu-bin/xtask.gz
size=$(stat -c %s gpu-bin/xtask.gz)
limit=$((48 * 1024 * 1024))
if [ "$size" -gt "$limit" ]; then
    echo "gpu-bin/xtask.gz is $size bytes: over the 48 MiB this script allows" >&2
    exit 1
fi
echo "stripped $(($(stat -c %s "$stripped") / 1024 / 1024)) MiB, gzipped $((size / 1024 / 1024)) MiB;" \
    "linked against: $(ldd "$stripped" | awk '{print $1}' | tr '\n' ' ')"
echo "on the GPU machine, from the repo root (carry gpu-bin):"
echo '  gzip -dc gpu-bin/xtask.gz > /tmp/xtask && chmod +x /tmp/xtask && /tmp/xtask gpu-check --out "$OUT"'
