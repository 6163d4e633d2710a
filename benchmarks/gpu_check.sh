#!/usr/bin/env bash
# The GPU check, run once on a machine with an NVIDIA GPU and PyTorch already installed (nothing is
# downloaded, nothing installed: the package is used from this copy of the repository via PYTHONPATH).
#
#   bash benchmarks/gpu_check.sh [OUTPUT_DIR]        # about 4 minutes; JSON files land in OUTPUT_DIR
#
# Data: full MNIST or Fashion-MNIST where the package finds it (data/MNIST/raw, data/FashionMNIST/raw,
# /usr/share/datasets/fashion-mnist); else random images of the full size, which time the same but
# say nothing about accuracy. To take Fashion-MNIST along in a copy of the tree (it is git-ignored there):
#   mkdir -p data/FashionMNIST/raw && cp /usr/share/datasets/fashion-mnist/*.gz data/FashionMNIST/raw/
#
# Prints the GPU and versions, the tests that run on CUDA, the benchmark on the GPU (the fast path and
# data-parallel over nccl on one process, 10 epochs each), a summary of the figures 06_speed and
# benchmarks/README.md quote, and the two CPU pipelines on the same machine for comparison.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/gpu_check}
mkdir -p "$out"
python=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 MNIST_TUTORIAL_OFFLINE=1

echo "== machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "nvidia-smi: not found"
"$python" -c 'import sys, torch, torchvision
print("torch", torch.__version__, "| torchvision", torchvision.__version__, "| CUDA:", torch.cuda.is_available())
sys.exit(0 if torch.cuda.is_available() else "no CUDA device: nothing to check here")' || exit 1
nproc

data=(--synthetic)
for folder in data/MNIST/raw data/FashionMNIST/raw /usr/share/datasets/fashion-mnist; do
    if compgen -G "$folder/t10k-labels-idx1-ubyte*" >/dev/null; then data=(); fi
done
echo "data: ${data[*]:-full-size dataset found}"

echo "== tests, the GPU ones included"
timeout 300 "$python" -m pytest -q -p no:cacheprovider -o addopts="" -rs \
    tests/test_data.py tests/test_train.py || echo "(some tests failed: see above)"

echo "== benchmark on cuda: the fast path and one process over nccl (10 epochs each)"
timeout 600 "$python" benchmarks/bench_training.py --device cuda --epochs 10 "${data[@]}" \
    --pipelines fast,ddp-1 --json-out "$out/bench_graphs.json" \
    && cat "$out/bench_graphs.json"
"$python" - "$out/bench_graphs.json" <<'SUMMARY'
import json, sys
report = json.load(open(sys.argv[1]))
print(f"== summary: {report['device_name']}, torch {report['torch']}, {report['data']}")
for name, row in report["pipelines"].items():
    print(f"{name:15} {row['s_per_epoch']:.3f} s/epoch (median), {sum(row['epoch_s']):.2f} s for "
          f"{len(row['epoch_s'])} epochs, test accuracy {row['test_accuracy']:.2%}")
SUMMARY

echo "== the same machine's CPU, for comparison"
timeout 300 "$python" benchmarks/bench_training.py --device cpu --epochs 2 --pipelines lesson-tuned,fast \
    "${data[@]}" --json-out "$out/bench_cpu.json"
