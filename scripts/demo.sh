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

step "4. Drifting video streams: contact sheets of the source domain and the drifted streams"
for s in source D E; do $bin data sheet --stream "$s" --out "$out/sheet-$s.png"; done
echo "contact sheets in $out/sheet-*.png (nestevo data render writes frames with COCO labels)"

step "5. The shipped detectors (models/pretrained): the teacher margin on held-out frames"
echo "global model against the terminal models, mAP@0.5 [95 % bootstrap interval], 100 frames per stream, one every 2 s"
$bin evolve margin --models models/pretrained --streams source,D,E --frames 100 --json-out "$out/margin.json"

step "6. The global model on the simulated ISAAC chip: float against bit-faithful crossbars"
$bin cim run --arch isaac --checkpoint models/pretrained/global.safetensors --stream D --frames 16 --calib-frames 4 \
  --out "$out/global-on-isaac-D.json"

step "7. The evolution demo: two drifted terminals (M1 on rural D, M2 on night E), four windows"
echo "the edge labels their uploads with the global model, detects drift, co-evolves (generator,"
echo "noise-injected mutual learning, FedAvg, distillation); each model scored on later frames"
$bin evolve run --preset demo --out "$out/evolve-demo"
python3 - "$out/evolve-demo/windows.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print(f"{'window':>6} {'terminal':>8} {'delta_i':>7} {'action':>10} {'mAP@0.5 before':>15} {'after':>6} {'no evolution':>12} {'global before':>13} {'after':>6}")
for r in rows:
    print(f"{r['window']:>6} {r['terminal']:>8} {float(r['delta']):7.1f} {r['action']:>10} "
          f"{float(r['map50_before']):15.3f} {float(r['map50_after']):6.3f} {float(r['map50_start']):12.3f} "
          f"{float(r['global_map50']):13.3f} {float(r['global_map50_after']):6.3f}")
PY
echo "per-window figures: $out/evolve-demo/windows.csv; plot: $out/evolve-demo/map_over_time.png"
echo "('no evolution': the terminal's starting model on the same frames, what method A3 gives)"
echo "every method on the paper preset over 5 replicates (Table 4): nestevo evolve compare --preset paper --out out/table4"
echo "retrain the shipped checkpoints: nestevo pretrain --preset default --seed 0 (docs/training.md)"
