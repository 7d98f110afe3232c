#!/bin/bash
# Each exported network (scripts/export_torchvision.py) through `cim run` at several input widths
# (`--set data.input_bits=B`) and both weight scales: the crossbars against the float reference
# (largest difference over max |y|) and the top-1 class against onnxruntime's; one markdown row
# per network and scale (docs/architects.md, "Wider inputs").
#   NESTEVO=target/release/nestevo DIR=/tmp/tv BITS="16 18 20 24" scripts/input_bits_torchvision.sh resnet152 ...
# Needs python3 with numpy; work files go to $WORK (default /tmp/nestevo-ib), removed after each.
set -u
B=${NESTEVO:-target/release/nestevo}; B=$(realpath "$B"); W=${WORK:-/tmp/nestevo-ib}; mkdir -p "$W"
PY=${PYTHON:-python3}; BITS=${BITS:-16 18 20 24}; cd "${DIR:?DIR: the folder of the exports}"
for n in "$@"; do
  for mode in layer column; do
    row="| $n | $mode |"
    for bits in $BITS; do
      if ! $B cim run --model $n.onnx --inputs ${n}_x.npy --set data.weight_scale=$mode \
          --set data.input_bits=$bits --out "$W/run" > "$W/log" 2>&1; then
        row="$row FAILED $(tail -1 "$W/log" | cut -c1-200) |"; continue
      fi
      row="$row $("$PY" - "$W/run" "$PWD/${n}_y.npy" <<'PY'
import sys, numpy as np
d, ref = sys.argv[1], np.load(sys.argv[2])
f = np.load(f"{d}/float.npy").reshape(ref.shape); c = np.load(f"{d}/cim.npy").reshape(ref.shape)
same = "" if (c.argmax(-1) == ref.argmax(-1)).all() else " (top-1 differs)"
print(f"{np.abs(c - f).max() / np.abs(f).max():.2e}{same}")
PY
) |"
      rm -rf "$W/run"
    done
    echo "$row"
  done
done
