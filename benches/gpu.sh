#!/usr/bin/env bash
# README's "On a GPU" figures on a GPU machine without Rust, in one call of at most
# KILN_GPU_SECONDS (540), the most telling first, each section cut to the time left:
#   cold    the CIFAR CNN at batch 128 with an empty kernel cache (its first step is the
#           cold start), PyTorch eager beside it;
#   warm    the same in a new process, the cache filled (the warm start), with
#           torch.compile too, and the augmentation rates against training;
#   profile a short CIFAR CNN run under cubecl's profiler (where a step's time goes);
#   epochs  a fresh CIFAR CNN's fit, its first epoch against the later ones;
#   convs   the CIFAR CNN's convolutions alone against PyTorch's (and the candidates for
#           its first layer);
#   more    the CIFAR CNN, the MNIST CNN and ResNet-14 at batch 512, then 128, as long as
#           time is left.
# Each section's log goes to $OUT as it runs (<section>.txt), so a cut still brings back
# what it measured; the profile and the kernel cache (compressed) go there at the end.
# Keep kernels.tar.gz in .carry: a later run unpacks it, skips the cold section, and has
# the time for more.
#
# Built here, carried there (compressed: each binary is about 55 MB of the 64 MiB a run
# may carry, 12-15 MB gzipped):
#   cargo bench --features cuda --bench training_step --bench fit_loop --bench conv_layers --no-run
#   mkdir -p .carry && for b in training_step fit_loop conv_layers; do
#       gzip -c "$(ls -t target/release/deps/$b-* | grep -v '\.d$' | head -1)" >.carry/$b.gz; done
#   echo /.carry/ >> .git/info/exclude
# then, on the device, with .carry carried and a time limit above KILN_GPU_SECONDS (600 s
# for the default 540, so the kernel cache is still packed at the end): bash benches/gpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
deadline=$(($(date +%s) + ${KILN_GPU_SECONDS:-540}))
bin=${KILN_BENCH_BINARIES:-/tmp/kiln-bench}
mkdir -p "$bin"
for b in training_step fit_loop conv_layers; do
    # Unpacked again when the carried one is newer (a machine kept warm between calls).
    if ! [ "$bin/$b" -nt ".carry/$b.gz" ]; then
        gunzip -c ".carry/$b.gz" >"$bin/$b.tmp" ||
            { echo "cannot unpack .carry/$b.gz: build and pack it first (above)"; exit 1; }
        chmod +x "$bin/$b.tmp" && mv "$bin/$b.tmp" "$bin/$b"
    fi
done
bench=$(realpath "$bin/training_step")
out=${OUT:-/tmp}
export KILN_BENCH_DEVICE=cuda KILN_BENCH_SCRIPTS="$PWD/benches"
export KILN_BENCH_PYTHON=${KILN_BENCH_PYTHON:-python3} KILN_BENCH_SECONDS=${KILN_BENCH_SECONDS:-3}
export KILN_KERNEL_CACHE=${KILN_KERNEL_CACHE:-/tmp/kiln-kernels}
rm -rf "$KILN_KERNEL_CACHE" && mkdir -p "$KILN_KERNEL_CACHE"
carried=false
if [ -s .carry/kernels.tar.gz ]; then
    tar xzf .carry/kernels.tar.gz -C "$KILN_KERNEL_CACHE" && carried=true
fi
trap 'tar czf "$out/kernels.tar.gz" -C "$KILN_KERNEL_CACHE" . || true' EXIT
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true

# section NAME CAP COMMAND...: COMMAND for at most CAP seconds, or what is left before
# the deadline (skipped under 20), its output in $out/NAME.txt as it runs.
section() {
    local name=$1 cap=$2 left
    shift 2
    left=$((deadline - $(date +%s)))
    ((left < cap)) && cap=$left
    if ((cap < 20)); then
        echo "== $name: skipped, $left s left"
        return
    fi
    echo "== $name (at most $cap s)"
    timeout --kill-after=10 "$cap" "$@" 2>&1 | tee "$out/$name.txt" ||
        echo "== $name was cut at $cap s or failed"
}

cifar=(env KILN_BENCH_MODELS=cifar_cnn KILN_BENCH_BATCHES=128)
if $carried; then
    echo "== cold: skipped, the kernel cache came from .carry/kernels.tar.gz"
else
    section cold 300 "${cifar[@]}" KILN_BENCH_TORCH=eager KILN_BENCH_AUGMENT=0 "$bench" --bench
fi
section warm 150 "${cifar[@]}" "$bench" --bench

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
(cd "$profile" && section profile 60 "${cifar[@]}" KILN_BENCH_SECONDS=1 KILN_BENCH_PYTHON=false \
    KILN_BENCH_AUGMENT=0 "$bench" --bench)
gzip -c "$profile/profile.log" >"$out/profile.log.gz" || true

section epochs 120 "$bin/fit_loop" --bench
section convs 90 env KILN_BENCH_MODELS=cifar_cnn KILN_BENCH_SECONDS=0.5 "$bin/conv_layers" --bench
section more 600 env KILN_BENCH_MODELS=cifar_cnn,mnist_cnn,resnet14 KILN_BENCH_BATCHES=512,128 \
    KILN_BENCH_TORCH=eager KILN_BENCH_AUGMENT=0 "$bench" --bench
