#!/usr/bin/env bash
# On a lent GPU machine: `nestevo bench gpu-vs-cim` with LibTorch on CUDA (the shipped global
# model on 1200 frames, the crossbars on the torch engine; ResNet-50 at 1280x736 timed on 16
# frames and scaled), results under $OUT.
#   device run: carry ["target/release/nestevo", ".gpulib"] (see scripts/gpu-bench-xbar.sh), timeout_s 200
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu-vs-cim}; mkdir -p "$out"
venv=$(ls -d /opt/torch/.venv 2>/dev/null || true)
lib=${TORCH_LIB:-$(ls -d "$venv"/lib/python3*/site-packages/torch/lib 2>/dev/null | head -n 1)}
export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [ -d .gpulib ]; then
  export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$PWD/.gpulib"
  [ -e /etc/fonts/fonts.conf ] || { mkdir -p /etc/fonts && cp -r .gpulib/etc-fonts/. /etc/fonts/; }
  mkdir -p /usr/share/fonts/truetype/dejavu && cp -n .gpulib/dejavu/*.ttf /usr/share/fonts/truetype/dejavu/ 2>/dev/null
fi
SECONDS=0
timeout "${GVC_TIMEOUT:-150}" target/release/nestevo bench gpu-vs-cim --checkpoint models/pretrained/global.safetensors \
  --frames 1200 --calib-frames 16 --device cuda --backend torch --big-frames 16 \
  --out "$out/gpu-vs-cim.json" --plot "$out/gpu-vs-cim.png" 2>&1 | grep -v '^Fontconfig' | tee "$out/gpu-vs-cim.md"
echo "gpu-vs-cim rc ${PIPESTATUS[0]} wall ${SECONDS} s" | tee -a "$out/gpu-vs-cim.md"
