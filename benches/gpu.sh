#!/usr/bin/env bash
# README's "On a GPU" figures on a GPU machine without Rust, in one run: the CUDA training
# benchmark for the CIFAR CNN with an empty kernel cache (its first step is the cold start),
# then every model at batch 128 and 512 with the cache that run filled, PyTorch eager and
# torch.compile beside it; a fresh CIFAR CNN's fit, its first epoch against the later
# ones; each convolution of the models alone, forward and both gradients, against
# PyTorch's (and im2col's for the first layers); then a short CIFAR CNN run under cubecl's
# profiler (where a step's time goes, kernel by kernel). The logs, the profile and the
# kernel cache (compressed) go to $OUT.
#
# Built here, carried there (compressed: each binary is about 55 MB of the 64 MiB a run
# may carry, 12-15 MB gzipped):
#   cargo bench --features cuda --bench training_step --bench fit_loop --bench conv_layers --no-run
#   mkdir -p .carry && for b in training_step fit_loop conv_layers; do
#       gzip -c "$(ls -t target/release/deps/$b-* | grep -v '\.d$' | head -1)" >.carry/$b.gz; done
#   echo /.carry/ >> .git/info/exclude
# then, on the device, with .carry carried: bash benches/gpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${KILN_BENCH_BINARIES:-/tmp/kiln-bench}
mkdir -p "$bin"
for b in training_step fit_loop conv_layers; do
    [ -e "$bin/$b" ] || { gunzip -c ".carry/$b.gz" >"$bin/$b" && chmod +x "$bin/$b"; }
done
bench=$(realpath "$bin/training_step")
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
echo "== a fresh CIFAR CNN's fit: the first epoch against the later ones"
"$bin/fit_loop" --bench 2>&1 | tee "$out/epochs.txt"

echo "== each convolution alone, against PyTorch's"
KILN_BENCH_SECONDS=0.5 "$bin/conv_layers" --bench 2>&1 | tee "$out/convs.txt" || echo "the convolution run failed"

echo "== the CIFAR CNN at batch 128 under cubecl's profiler"
# A cubecl.toml in the working folder takes over cubecl's settings (kernel_cache() then
# defers to it), so it names the same cache.
profile=$(mktemp -d)
cat >"$profile/cubecl.toml" <<TOML
[profiling]
logger = { level = "basic", file = "$profile/profile.log" }
[compilation]
cache = { file = "$KILN_KERNEL_CACHE" }
[autotune]
cache = { file = "$KILN_KERNEL_CACHE" }
TOML
(cd "$profile" && KILN_BENCH_MODELS=cifar_cnn KILN_BENCH_BATCHES=128 KILN_BENCH_SECONDS=1 \
    KILN_BENCH_PYTHON=false "$bench" --bench >/dev/null 2>&1) || echo "the profiled run failed"
gzip -c "$profile/profile.log" >"$out/profile.log.gz" || true
tar czf "$out/kernels.tar.gz" -C "$KILN_KERNEL_CACHE" .
