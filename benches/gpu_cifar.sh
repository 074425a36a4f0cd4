#!/usr/bin/env bash
# The README's CIFAR-10 runs on a GPU machine without Rust: Keras's cifar10_cnn, the deeper
# net (`--model deep`) and ResNet-14 (`resnet_cifar`), 50 epochs each at batch 128 with
# Adam, shifts and flips on the GPU, side by side (accuracy, seconds per epoch).
#
# The CIFAR-10 files (150 MB) are more than one call to the GPU machine may carry (64 MiB
# with the checkout), so they travel in parts, over calls to one machine kept warm, and
# wait in /tmp there. Here, once (the examples built with CUDA, then the parts made):
#   cargo build --release --features cuda --example cifar10 --example resnet_cifar
#   bash benches/gpu_cifar.sh pack            # .stage/1 .. .stage/4 (.git/info/exclude: /.stage/)
# There, one call per part, each right after the last (the machine goes back when idle):
#   carry [".stage/1"]: bash benches/gpu_cifar.sh stage
#   carry [".stage/2"]: bash benches/gpu_cifar.sh stage
#   carry [".stage/3"]: bash benches/gpu_cifar.sh stage && bash benches/gpu_cifar.sh run cnn deep
#   carry [".stage/4"]: bash benches/gpu_cifar.sh stage && bash benches/gpu_cifar.sh run resnet
# Each run's log goes to $OUT as it trains (`<model>.txt`), so a call cut short by its time
# limit still brings back the epochs it finished. KILN_CIFAR_EPOCHS (50) and
# KILN_CIFAR_DEVICE (cuda) change the runs, to try them on a CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${KILN_CIFAR_STAGE:-/tmp/kiln-cifar}
bin=$data/bin
files=(data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin
       test_batch_first1000.bin batches.meta.txt)

case "${1:-}" in
pack)
    source=${KILN_DATA:-../shared/data}/cifar10
    rm -rf .stage && mkdir -p .stage/{1,2,3,4}
    # FILE PART: FILE compressed into .stage/PART, or the reason it is not there.
    pack() { gzip -c "$1" >".stage/$2/$(basename "$1").gz" || { echo "cannot pack $1"; exit 1; }; }
    pack "$source/data_batch_1.bin" 1
    pack "$source/data_batch_2.bin" 1
    pack "$source/data_batch_3.bin" 2
    pack "$source/data_batch_4.bin" 2
    pack "$source/data_batch_5.bin" 3
    pack "$source/test_batch_first1000.bin" 3
    pack "$source/batches.meta.txt" 3
    pack target/release/examples/cifar10 3
    pack target/release/examples/resnet_cifar 4
    du -sh .stage/*
    ;;
stage)
    mkdir -p "$data/cifar10" "$bin"
    for part in .stage/*/; do
        for f in "$part"*.gz; do
            [ -e "$f" ] || continue
            name=$(basename "$f" .gz)
            case "$name" in
            *.bin | *.txt) into=$data/cifar10 ;;
            *) into=$bin ;;
            esac
            rm -f "$into/$name" && gunzip -c "$f" >"$into/$name"
            [ "$into" = "$bin" ] && chmod +x "$into/$name"
        done
    done
    ls -l "$data/cifar10" "$bin"
    ;;
run)
    shift
    for f in "${files[@]}"; do
        [ -s "$data/cifar10/$f" ] || { echo "$data/cifar10/$f is missing: stage every part first"; exit 1; }
    done
    export KILN_DATA=$data KILN_KERNEL_CACHE=${KILN_KERNEL_CACHE:-/tmp/kiln-kernels}
    out=${OUT:-/tmp}
    common=(--device "${KILN_CIFAR_DEVICE:-cuda}" --epochs "${KILN_CIFAR_EPOCHS:-50}"
            --batch-size 128 --optimizer adam --learning-rate 0.001 --lr-drop-epoch 40)
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
    for model in "$@"; do
        case "$model" in
        cnn) command=("$bin/cifar10" --model cnn) ;;
        deep) command=("$bin/cifar10" --model deep) ;;
        resnet) command=("$bin/resnet_cifar") ;;
        *) echo "no model $model (cnn, deep or resnet)"; exit 2 ;;
        esac
        [ -x "${command[0]}" ] || { echo "${command[0]} is missing: stage its part first"; exit 1; }
        echo "== $model: ${command[*]} ${common[*]}"
        # The examples write their charts and checkpoints in the working folder.
        work=$(mktemp -d)
        start=$(date +%s)
        (cd "$work" && "${command[@]}" "${common[@]}") 2>&1 | tee "$out/$model.txt" \
            || echo "the $model run failed"
        echo "$model: $(($(date +%s) - start)) s in all" | tee -a "$out/$model.txt"
    done
    ;;
*)
    echo "usage: bash benches/gpu_cifar.sh pack | stage | run cnn|deep|resnet ..."
    exit 2
    ;;
esac
