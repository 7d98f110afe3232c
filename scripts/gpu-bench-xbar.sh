#!/usr/bin/env bash
# On a lent GPU machine, one prepared call (at most BUDGET s from its start, default 560): the
# LibTorch crossbar engine on CUDA next to the CPU kernels on that machine's cores
# (benches/xbar_torch.rs): the ISAAC 1024x1024 layer at a batch of 4096 vectors (noiseless: the
# exact product and the bit-serial tensors; cell noise, its f32 products alone and its variants:
# bf16-part products, the ADC in the f32 products' epilogue, f16-part products with f16 codes;
# outputs and counts checked against the kernels, and each torch row's speed against theirs,
# the goal's reading); then, with target/release/nestevo carried too, the shipped global
# detector on 1200 frames of stream D at DET_BATCH frames per forward (default 64; noiseless and
# cell noise), ResNet-50 (224x224, 8 images, exported there by scripts/export_resnet50_plain.py
# with its torch) on the torch engine, noiseless and with cell noise, the detector with cell
# noise once more at the default 8 frames per forward and on the torch engine's three variants,
# the global detector (random weights) on 64 frames on both engines, heads compared, and last
# the evolution demo on the GPU. A step whose time limit would pass BUDGET is skipped (said
# so), so that the summary at the end always prints.
#   here:        scripts/gpu-prepare.sh (builds and checks the three carried paths, prints the call)
#   device run:  carry ["target/xbar-bench", "target/release/nestevo", ".gpulib"], command: scripts/gpu-bench-xbar.sh,
#                timeout_s 590 (SKIP_BENCH=1: only the nestevo commands; SKIP_CELL=1: only noiseless
#                nestevo commands; SKIP_VARIANTS=1: not the detector's cell-noise runs on --backend
#                torch:bf16, torch:epilogue and torch:f16; SKIP_CHECK=1: not the 64-frame check;
#                SKIP_DEMO=1: not the demo; PAPER=1: also one run of the paper preset, PAPER_TIMEOUT s at most)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu-bench-xbar}; mkdir -p "$out"
. scripts/gpu-env.sh
noises="none cell"; [ "${SKIP_CELL:-0}" = 1 ] && noises=none
bin=target/xbar-bench/xbar_torch
nproc; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
# SECONDS counts from the shell's start: the budget covers the set-up above too.
budget=${BUDGET:-560}
# Whether a step with this time limit (and timeout's 10 s to kill) still fits the budget; else
# says so.
fits() {
  [ $((SECONDS + $1 + 10)) -le "$budget" ] && return 0
  echo "skipped at ${SECONDS} s (its limit $1 s would pass BUDGET $budget s): $2" | tee -a "$out/skipped.txt"
  return 1
}
# The shipped global detector on 1200 frames of D: backend, noise, frames per forward, log name.
detector() {
  local mu=""; [ "$2" = cell ] && mu="--mu 0.01"
  fits 100 "$4" || return 0
  local s0=$SECONDS
  timeout -k 10 100 target/release/nestevo cim run --arch isaac --checkpoint models/pretrained/global.safetensors \
    --stream D --frames 1200 --backend "$1" --noise "$2" $mu --batch "$3" --out "/tmp/$4.json" \
    > "$out/$4.log" 2>&1
  echo "global 1200 frames of D, $1, $2, batch $3: rc $? command $((SECONDS - s0)) s" | tee -a "$out/$4.log"
}
det_batch=${DET_BATCH:-64}
if [ "${SKIP_BENCH:-0}" != 1 ] && fits 150 "layer-4096"; then
  XBAR_PART=layer XBAR_BATCH=4096 XBAR_REPS=3 timeout -k 10 150 "$bin" --bench 2>&1 | tee "$out/layer-4096.txt"
  echo "layer rc ${PIPESTATUS[0]} at ${SECONDS} s" | tee -a "$out/layer-4096.txt"
fi
if [ -x target/release/nestevo ]; then
  for noise in $noises; do
    detector torch "$noise" "$det_batch" "global-1200-$noise"
  done
  py=${PYTHON:-$venv/bin/python}
  r50=/tmp/r50
  if fits 60 "resnet50 export"; then
    timeout -k 10 60 "$py" scripts/export_resnet50_plain.py "$r50" 8 2>&1 | tail -n 1 | tee "$out/resnet50.txt"
    echo "resnet50 export rc ${PIPESTATUS[0]}" | tee -a "$out/resnet50.txt"
    for noise in $noises; do
      mu=""; [ "$noise" = cell ] && mu="--mu 0.01"
      fits 80 "resnet50 $noise" || continue
      s0=$SECONDS
      timeout -k 10 80 target/release/nestevo cim run --model "$r50/resnet50.onnx" --inputs "$r50/resnet50_x.npy" \
        --out "$r50/$noise" --backend torch --noise "$noise" $mu > "$out/r50-$noise.log" 2>&1
      echo "resnet50 $noise (8 images) rc $? command $((SECONDS - s0)) s $(grep -i 'wall time' "$out/r50-$noise.log" | tr '\n' ' ')" \
        | tee -a "$out/resnet50.txt"
    done
    echo "resnet50 at ${SECONDS} s" | tee -a "$out/resnet50.txt"
  fi
  if [ "${SKIP_CELL:-0}" != 1 ]; then
    # Frames per forward: the default's 8 beside the runs above.
    [ "$det_batch" != 8 ] && detector torch cell 8 "global-1200-cell-batch8"
    if [ "${SKIP_VARIANTS:-0}" != 1 ]; then
      # The analogue path's variants on the same run (the report's crossbars row times them).
      for variant in bf16 epilogue f16; do
        detector "torch:$variant" cell "$det_batch" "global-1200-cell-$variant"
      done
    fi
  fi
fi
if [ "${SKIP_BENCH:-0}" != 1 ] && [ "${SKIP_CHECK:-0}" != 1 ] && fits 90 "network-64 check"; then
  XBAR_PART=network XBAR_FRAMES=64 XBAR_FRAME_BATCH=64 XBAR_CPU=1 timeout -k 10 90 "$bin" --bench 2>&1 \
    | tee "$out/network-64-check.txt"
  echo "network-64 rc ${PIPESTATUS[0]} at ${SECONDS} s" | tee -a "$out/network-64-check.txt"
fi
if [ -x target/release/nestevo ] && [ "${SKIP_DEMO:-0}" != 1 ] && fits 150 "demo"; then
  s0=$SECONDS
  timeout -k 10 150 target/release/nestevo evolve run --preset demo --out /tmp/evolve-demo > "$out/demo.txt" 2>&1
  echo "demo rc $? wall $((SECONDS - s0)) s" | tee -a "$out/demo.txt"
  cp /tmp/evolve-demo/windows.csv "$out/demo-windows.csv" 2>/dev/null
fi
if [ -x target/release/nestevo ] && [ "${PAPER:-0}" = 1 ] && fits "${PAPER_TIMEOUT:-240}" "paper"; then
  # One run of the paper preset (NestEvo, three terminals, six windows), bounded.
  s0=$SECONDS
  timeout -k 10 "${PAPER_TIMEOUT:-240}" target/release/nestevo evolve run --preset paper --out /tmp/evolve-paper \
    > "$out/paper.txt" 2>&1
  echo "paper rc $? wall $((SECONDS - s0)) s" | tee -a "$out/paper.txt"
  cp /tmp/evolve-paper/windows.csv "$out/paper-windows.csv" 2>/dev/null
fi
nvidia-smi --query-gpu=memory.used --format=csv,noheader || true
# The figures the goals need, last, where the call's output tail keeps them.
echo "== summary at ${SECONDS} s"
grep -hE "cell noise|CPU kernels|check:|goal:" "$out/layer-4096.txt" 2>/dev/null | cut -c1-200
for f in "$out"/global-1200-*.log; do
  [ -f "$f" ] && echo "$(basename "$f"): $(grep -E 'wall time|mAP@0.5 \(|rc ' "$f" | tr -s ' ' | tr '\n' ' ')"
done
cat "$out/resnet50.txt" 2>/dev/null
cat "$out/skipped.txt" 2>/dev/null
