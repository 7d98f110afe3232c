#!/usr/bin/env bash
# On a lent GPU machine, one prepared call (about 4 to 7 minutes): whole networks on the torch
# engine with the network resident on the device (the default since the device forward,
# crates/xbar-torch/src/net.rs) against the old per-layer path (NESTEVO_NET_PATH=layers: only
# the crossbar products on the device, every layer's inputs and outputs through the host), on
# the same binary: the shipped global detector on 1200 frames of stream D and ResNet-50
# (224x224, 8 images, exported there by scripts/export_resnet50_plain.py with that machine's
# torch 2.11), each noiseless and with cell noise mu 0.01. Prints each run's crossbar time and
# whole command time, and checks that both paths give the same report (every count, mAP, head
# differences) and, for ResNet-50, the same output file bit for bit.
#   here:        cargo build --release -p nestevo   (and .gpulib once, as scripts/gpu-env.sh says)
#   device run:  carry ["target/release/nestevo", ".gpulib"], command: scripts/gpu-bench-net.sh,
#                timeout_s 480 (the runs stop starting after BUDGET s, default 400; SKIP_OLD=1:
#                only the device path; SKIP_CELL=1: only noiseless; FRAMES and IMAGES shrink the runs
#                for a dry run elsewhere, e.g. FRAMES=16 IMAGES=1 PYTHON=.venv/bin/python). The machine
#                has 16 cores.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu-bench-net}; mkdir -p "$out"
. scripts/gpu-env.sh
py=${PYTHON:-$venv/bin/python}
bin=target/release/nestevo
budget=${BUDGET:-400}
frames=${FRAMES:-1200}; images=${IMAGES:-8}
noises="none cell"; [ "${SKIP_CELL:-0}" = 1 ] && noises=none
paths="net layers"; [ "${SKIP_OLD:-0}" = 1 ] && paths=net
nproc; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
SECONDS=0
# Whether there is time left for a run of at most $1 s.
room() { [ $((SECONDS + $1)) -le "$budget" ] || { echo "skipped (budget $budget s, at $SECONDS s)" | tee -a "$out/summary.txt"; return 1; }; }
# The path's environment: the device forward is the default; `layers` forces the old path.
envof() { [ "$1" = layers ] && echo NESTEVO_NET_PATH=layers || echo NESTEVO_NET_PATH=net; }
# Crossbar seconds of a report (JSON file).
secs() { "$py" -c "import json,sys; print(round(json.load(open(sys.argv[1]))['cim_seconds'], 3))" "$1" 2>/dev/null || echo "?"; }
# Two reports equal but for their timings.
same_report() {
  "$py" - "$1" "$2" <<'EOF'
import json, sys
def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if not k.endswith('_seconds')}
    if isinstance(o, list):
        return [strip(v) for v in o]
    return o
a, b = (strip(json.load(open(p))) for p in sys.argv[1:3])
diff = [k for k in a if a.get(k) != b.get(k)]
print('reports equal' if not diff else 'reports DIFFER in ' + ', '.join(diff))
EOF
}

for noise in $noises; do
  mu=""; [ "$noise" = cell ] && mu="--mu 0.01"
  for path in $paths; do
    room 110 || continue
    s0=$SECONDS
    env "$(envof $path)" timeout 110 "$bin" cim run --arch isaac --checkpoint models/pretrained/global.safetensors \
      --stream D --frames "$frames" --backend torch --noise "$noise" $mu --out "$out/global-$noise-$path.json" \
      > "$out/global-$noise-$path.log" 2>&1
    rc=$?
    echo "global $frames frames of D, $noise, path $path: rc $rc, crossbars $(secs "$out/global-$noise-$path.json") s, command $((SECONDS - s0)) s" \
      | tee -a "$out/summary.txt"
    grep -h "layer by layer" "$out/global-$noise-$path.log" | tee -a "$out/summary.txt"
  done
  if [ -f "$out/global-$noise-net.json" ] && [ -f "$out/global-$noise-layers.json" ]; then
    echo "global $noise, device path against per-layer path: $(same_report "$out/global-$noise-net.json" "$out/global-$noise-layers.json")" \
      | tee -a "$out/summary.txt"
  fi
done

r50=/tmp/r50
if room 60; then
  timeout 60 "$py" scripts/export_resnet50_plain.py "$r50" "$images" 2>&1 | tail -n 1 | tee -a "$out/summary.txt"
fi
for noise in $noises; do
  mu=""; [ "$noise" = cell ] && mu="--mu 0.01"
  for path in $paths; do
    [ -f "$r50/resnet50.onnx" ] || continue
    room 70 || continue
    s0=$SECONDS
    env "$(envof $path)" timeout 70 "$bin" cim run --model "$r50/resnet50.onnx" --inputs "$r50/resnet50_x.npy" \
      --out "$out/r50-$noise-$path" --backend torch --noise "$noise" $mu > "$out/r50-$noise-$path.log" 2>&1
    rc=$?
    echo "resnet50 $images images, $noise, path $path: rc $rc, crossbars $(secs "$out/r50-$noise-$path/report.json") s, command $((SECONDS - s0)) s" \
      | tee -a "$out/summary.txt"
    grep -h "layer by layer" "$out/r50-$noise-$path.log" | tee -a "$out/summary.txt"
  done
  a="$out/r50-$noise-net"; b="$out/r50-$noise-layers"
  if [ -f "$a/report.json" ] && [ -f "$b/report.json" ]; then
    same=$("$py" -c "import numpy as n,sys; x,y=n.load(sys.argv[1]),n.load(sys.argv[2]); print('outputs equal' if n.array_equal(x,y) else f'outputs DIFFER at {int((x!=y).sum())} of {x.size}, max {float(abs(x-y).max()):.3e}')" "$a/cim.npy" "$b/cim.npy" 2>&1)
    echo "resnet50 $noise, device path against per-layer path: $same, $(same_report "$a/report.json" "$b/report.json")" \
      | tee -a "$out/summary.txt"
  fi
  # The .npy outputs stay on the machine; the reports and logs come back.
  rm -f "$out/r50-$noise-"*/*.npy
done
echo "done at $SECONDS s" | tee -a "$out/summary.txt"
nvidia-smi --query-gpu=memory.used --format=csv,noheader || true
