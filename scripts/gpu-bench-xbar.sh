#!/usr/bin/env bash
# On a lent GPU machine, one prepared call: the LibTorch crossbar engine on CUDA next to the CPU
# kernels and plain products (benches/xbar_torch.rs): the ISAAC 1024x1024 layer at a batch of
# 4096 vectors (noiseless and cell noise; torch outputs and counts checked against the kernels),
# then the global detector (random weights) on 1200 frames on the torch engine, and on 64 frames
# on both engines (heads compared).
#   here:        cargo bench --bench xbar_torch --no-run
#                mkdir -p target/xbar-bench && cp "$(ls -t target/release/deps/xbar_torch-* | grep -v '\.d$' | head -n 1)" target/xbar-bench/xbar_torch
#   device run:  carry ["target/xbar-bench"], command: scripts/gpu-bench-xbar.sh, timeout_s 540
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
nvidia-smi --query-gpu=memory.used --format=csv,noheader || true
