#!/usr/bin/env bash
# On a lent GPU machine, one prepared call: the GPU check, then tch vs PyTorch training step time
# on CUDA, then the default pretrain preset on the GPU (bounded, written under $OUT).
#   device run: carry ["target/release/nestevo"], command: scripts/gpu-bench.sh
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu-bench}; mkdir -p "$out"
. scripts/gpu-env.sh
export PYTHON=${PYTHON:-$venv/bin/python}
nproc; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
scripts/gpu-check.sh 2>&1 | tee "$out/gpu-check.txt" || exit 1
for m in models/terminal.toml models/global.toml; do
  benches/train_speed.sh "$m" 50 32 cuda 2>&1 | tee -a "$out/train-speed-cuda.txt"
done
SECONDS=0
timeout "${PRETRAIN_TIMEOUT:-300}" target/release/nestevo pretrain --preset default \
  --out "$out/pretrain-gpu" 2>&1 | tail -n 30 | tee "$out/pretrain-gpu.txt"
echo "pretrain rc ${PIPESTATUS[0]} wall ${SECONDS} s" | tee -a "$out/pretrain-gpu.txt"
