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

step "6. Detectors: pretrain the global, terminal and pruned models (smoke preset), then score drift"
$bin pretrain --preset smoke --out "$out/pretrain-smoke"
for s in source D E; do
  printf '%-7s' "$s"
  $bin eval --checkpoint "$out/pretrain-smoke/global.safetensors" --stream "$s" --frames 100 --json \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); c=r["ci95"]["map50"]; print("global mAP@0.5 %.3f [95%% CI %.3f, %.3f]  mAP@0.75 %.3f  mAP@[.5:.95] %.3f" % (r["map50"], c["lo"], c["hi"], r["map75"], r["map"]))'
done
echo "the full table: nestevo pretrain --preset default (about 5 to 10 minutes on 2 cores; docs/training.md)"
