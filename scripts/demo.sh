#!/usr/bin/env bash
# The README's run command: all set-up, a release build, then the main demo. Results go to
# out/demo (NESTEVO_DEMO_OUT overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release
bin=target/release/nestevo
out=${NESTEVO_DEMO_OUT:-out/demo}
mkdir -p "$out/mvm"
step() { printf '\n== %s\n' "$*"; }

step "1. What this binary sees"
$bin info

step "2. ISAAC-CE: peak figures of the chip (Table I)"
$bin cim report --arch isaac

step "3. Bit-faithful crossbar MVM: a 256x64 layer, 16 input vectors (16-bit weights and inputs)"
python3 scripts/npy.py random 256 64 16 "$out/mvm"
mvm() { $bin cim mvm --weights "$out/mvm/W.npy" --inputs "$out/mvm/X.npy" --out "$out/mvm/Y.npy" "$@" --json \
          | grep -E '"(adc_saturations|adc_saturation_rate|crossbars|simulated_macs_per_second)"'
        python3 scripts/npy.py compare "$out/mvm/W.npy" "$out/mvm/X.npy" "$out/mvm/Y.npy"; }
echo "-- ISAAC (8-bit ADC, column flipping): exact"
mvm --arch isaac
echo "-- flipping off, same 8-bit ADC: columns of large weights saturate"
mvm --arch isaac --set encoding.flip=false
echo "-- flipping off with a 9-bit ADC: exact again"
mvm --arch isaac-noflip-9bit
echo "-- ISAAC with cell-level conductance noise, mu = 0.01"
mvm --arch isaac --noise cell --mu 0.01 --noise-seed 1

step "4. ResNet-18 mapped onto ISAAC-CE: per-layer report for 1200 frames"
$bin cim report --arch isaac --model models/resnet18.toml --frames 1200 | tee "$out/resnet18-isaac.txt"

step "5. Drifting video streams: 16 frames of each, and contact sheets"
for s in source A D E; do
  $bin data render --stream "$s" --frames 16 --out "$out/stream-$s" >/dev/null
  $bin data sheet --stream "$s" --out "$out/sheet-$s.png"
done
echo "frames and COCO labels in $out/stream-*/, contact sheets in $out/sheet-*.png"

step "6. The shipped detectors (models/pretrained): the teacher margin on held-out frames"
echo "global model against the terminal models, mAP@0.5 [95 % bootstrap interval], 100 frames per stream, one every 2 s"
$bin evolve margin --models models/pretrained --streams source,D,E --frames 100 --json-out "$out/margin.json"

step "7. The global model on the simulated ISAAC chip: float against bit-faithful crossbars"
$bin cim run --arch isaac --checkpoint models/pretrained/global.safetensors --stream D --frames 16 --calib-frames 4 \
  --out "$out/global-on-isaac-D.json"

step "8. The evolution loop (distillation only so far; co-evolution is not built yet): smoke preset"
$bin evolve run --preset smoke --out "$out/evolve-smoke"
echo "per-window figures in $out/evolve-smoke/windows.csv; docs/evolution.md says what is built"
echo "retrain the shipped checkpoints: nestevo pretrain --preset default --seed 0 (docs/training.md)"
