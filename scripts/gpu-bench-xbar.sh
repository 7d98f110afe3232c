#!/usr/bin/env bash
# On a lent GPU machine, one prepared call: the LibTorch crossbar engine on CUDA next to the CPU
# kernels and plain products (benches/xbar_torch.rs): the ISAAC 1024x1024 layer at a batch of
# 4096 vectors (noiseless and cell noise; torch outputs and counts checked against the kernels),
# then the global detector (random weights) on 1200 frames on the torch engine, and on 64 frames
# on both engines (heads compared); then, where target/release/nestevo is carried too, ResNet-50
# (224x224, 8 images, exported on the device by scripts/export_resnet50_plain.py with its torch)
# on the torch engine, noiseless and with cell noise.
#   here:        cargo bench --bench xbar_torch --no-run && cargo build --release
#                mkdir -p target/xbar-bench && cp "$(ls -t target/release/deps/xbar_torch-* | grep -v '\.d$' | head -n 1)" target/xbar-bench/xbar_torch
#   device run:  carry ["target/xbar-bench", "target/release/nestevo"], command: scripts/gpu-bench-xbar.sh, timeout_s 590
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu-bench-xbar}; mkdir -p "$out"
venv=$(ls -d /opt/torch/.venv 2>/dev/null || true)
lib=${TORCH_LIB:-$(ls -d "$venv"/lib/python3*/site-packages/torch/lib 2>/dev/null | head -n 1)}
export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
bin=target/xbar-bench/xbar_torch
nproc; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
SECONDS=0
XBAR_PART=layer XBAR_BATCH=4096 XBAR_REPS=3 timeout 180 "$bin" --bench 2>&1 | tee "$out/layer-4096.txt"
echo "layer rc ${PIPESTATUS[0]} at ${SECONDS} s" | tee -a "$out/layer-4096.txt"
XBAR_PART=network XBAR_FRAMES=1200 XBAR_FRAME_BATCH=64 XBAR_CPU=0 timeout 180 "$bin" --bench 2>&1 \
  | tee "$out/network-1200.txt"
echo "network-1200 rc ${PIPESTATUS[0]} at ${SECONDS} s" | tee -a "$out/network-1200.txt"
XBAR_PART=network XBAR_FRAMES=64 XBAR_FRAME_BATCH=64 XBAR_CPU=1 timeout 120 "$bin" --bench 2>&1 \
  | tee "$out/network-64-check.txt"
echo "network-64 rc ${PIPESTATUS[0]} at ${SECONDS} s" | tee -a "$out/network-64-check.txt"
if [ -x target/release/nestevo ]; then
  py=${PYTHON:-$venv/bin/python}
  timeout 60 "$py" scripts/export_resnet50_plain.py "$out/r50" 8 2>&1 | tail -n 1 | tee "$out/resnet50.txt"
  for noise in none cell; do
    mu=""; [ "$noise" = cell ] && mu="--mu 0.01"
    timeout 90 target/release/nestevo cim run --model "$out/r50/resnet50.onnx" --inputs "$out/r50/resnet50_x.npy" \
      --out "$out/r50/$noise" --backend torch --noise "$noise" $mu > "$out/r50/$noise.log" 2>&1
    echo "resnet50 $noise (8 images) rc $? $(grep 'wall time' "$out/r50/$noise.log")" | tee -a "$out/resnet50.txt"
  done
  echo "resnet50 at ${SECONDS} s" | tee -a "$out/resnet50.txt"
fi
nvidia-smi --query-gpu=memory.used --format=csv,noheader || true
