#!/usr/bin/env bash
# Fig. 15 from a co-evolved global model (docs/coupling.md): the demo's final global model,
# fine-tuned twice as scripts/fig15.sh fine-tunes the shipped one (folded mu 0.02, and none),
# then both scored at mu 0 and 0.02 under the trainer's law and bit-faithful weight- and
# cell-level noise (300 frames over the seven streams, 10 shared draws). Resumable.
#   scripts/fig15-coevolved.sh [RUN_DIR]      (NESTEVO=path/to/nestevo to use another binary)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${NESTEVO:-target/release/nestevo}
R=${1:-runs/demo-coevolved}
FT=$R-fig15
D=docs/results/coupling/paired-coevolved
export LD_LIBRARY_PATH=$PWD/.venv/libtorch/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
[ -f "$R/final/global.safetensors" ] || "$B" evolve run --preset demo --out "$R" --threads 1 --cpu
for spec in "co-noisy 0.02" "co-clean 0"; do
  set -- $spec
  [ -f "$FT/$1.safetensors" ] || "$B" bench noise-finetune --checkpoint "$R/final/global.safetensors" \
    --mu "$2" --site folded --steps 2000 --batch 16 --lr 3e-4 --seed 5 --out "$FT" --name "$1" --threads 1
done
mkdir -p $D
"$B" bench noise-sweep --arch isaac --checkpoint "co-noisy=$FT/co-noisy.safetensors" \
  --checkpoint "co-clean=$FT/co-clean.safetensors" --mus 0,0.02 --modes trainer,cim-weight,cim-cell \
  --frames 300 --draws 10 --threads 1 --out $D/sweep.csv --plot-dir $D > $D/sweep.md.tmp
mv $D/sweep.md.tmp $D/sweep.md
