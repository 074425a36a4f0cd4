#!/usr/bin/env bash
# README's "On a GPU" figures on a GPU machine without Rust, in one run: the CUDA training
# benchmark for the CIFAR CNN with an empty kernel cache (its first step is the cold start),
# then every model at batch 128 and 512 with the cache that run filled, PyTorch eager and
# torch.compile beside it. The logs and the kernel cache (compressed) go to $OUT.
#
# Built here, carried there:
#   cargo bench --features cuda --bench training_step --no-run
#   mkdir -p .carry && cp target/release/deps/training_step-<hash> .carry/training_step
#   echo /.carry/ >> .git/info/exclude
# then, on the device, with .carry carried: bash benches/gpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bench=${KILN_BENCH_BINARY:-.carry/training_step}
out=${OUT:-/tmp}
export KILN_BENCH_DEVICE=cuda KILN_BENCH_SCRIPTS="$PWD/benches"
export KILN_BENCH_PYTHON=${KILN_BENCH_PYTHON:-python3} KILN_BENCH_SECONDS=${KILN_BENCH_SECONDS:-3}
export KILN_KERNEL_CACHE=${KILN_KERNEL_CACHE:-/tmp/kiln-kernels}
rm -rf "$KILN_KERNEL_CACHE"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true

echo "== the CIFAR CNN with an empty kernel cache"
KILN_BENCH_MODELS=cifar_cnn KILN_BENCH_BATCHES=128 "$bench" --bench 2>&1 | tee "$out/cold.txt"
echo "== every model, batch 128 and 512, the CIFAR CNN's kernels cached"
"$bench" --bench 2>&1 | tee "$out/warm.txt"
tar czf "$out/kernels.tar.gz" -C "$KILN_KERNEL_CACHE" .
