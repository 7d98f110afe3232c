#!/usr/bin/env bash
# Fig. 15 as a paired experiment (docs/coupling.md): two fine-tunes of the shipped global model
# that differ only in the trainer's folded Eq. 18-20 noise, then both scored under trainer,
# trainer-raw and bit-faithful weight-level noise, and bit-faithful cell-level noise, on 300
# held-out frames over the seven streams with 10 draws shared between the models. Resumable:
# a rerun keeps the fine-tunes and the points already written.
#   scripts/fig15.sh [FT_DIR]        (NESTEVO=path/to/nestevo to use another binary)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${NESTEVO:-target/release/nestevo}
FT=${1:-runs/fig15}
D=docs/results/coupling/paired
export LD_LIBRARY_PATH=$PWD/.venv/libtorch/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
for spec in "ft-noisy 0.02" "ft-clean 0"; do
  set -- $spec
  [ -f "$FT/$1.safetensors" ] || "$B" bench noise-finetune \
    --checkpoint models/pretrained/global.safetensors --mu "$2" --site folded \
    --steps 2000 --batch 16 --lr 3e-4 --seed 5 --out "$FT" --name "$1" --threads 1
done
M=(--checkpoint "ft-noisy=$FT/ft-noisy.safetensors" --checkpoint "ft-clean=$FT/ft-clean.safetensors")
"$B" bench noise-sweep --arch isaac "${M[@]}" --mus 0,0.01,0.02,0.05 \
  --modes trainer,trainer-raw,cim-weight --frames 300 --draws 10 --threads 1 \
  --out $D/weight.csv --plot-dir $D/weight > $D/weight.md.tmp
mv $D/weight.md.tmp $D/weight.md
"$B" bench noise-sweep --arch isaac "${M[@]}" --mus 0,0.01,0.02 --modes cim-cell \
  --frames 300 --draws 10 --threads 1 --out $D/cell.csv --plot-dir $D/cell > $D/cell.md.tmp
mv $D/cell.md.tmp $D/cell.md
