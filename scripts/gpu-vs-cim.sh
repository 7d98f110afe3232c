#!/usr/bin/env bash
# On a lent GPU machine: `nestevo bench gpu-vs-cim` with LibTorch on CUDA (the shipped global
# model on 1200 frames, the crossbars on the torch engine; ResNet-50 at 1280x736 timed on 16
# frames and scaled), results under $OUT.
#   device run: carry ["target/release/nestevo", ".gpulib"] (.gpulib: see scripts/gpu-env.sh), timeout_s 200
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu-vs-cim}; mkdir -p "$out"
. scripts/gpu-env.sh
SECONDS=0
timeout "${GVC_TIMEOUT:-150}" target/release/nestevo bench gpu-vs-cim --checkpoint models/pretrained/global.safetensors \
  --frames 1200 --calib-frames 16 --device cuda --backend torch --big-frames 16 \
  --out "$out/gpu-vs-cim.json" --plot "$out/gpu-vs-cim.png" 2>&1 | grep -v '^Fontconfig' | tee "$out/gpu-vs-cim.md"
echo "gpu-vs-cim rc ${PIPESTATUS[0]} wall ${SECONDS} s" | tee -a "$out/gpu-vs-cim.md"
