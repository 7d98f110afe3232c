#!/bin/bash
# Each exported network (scripts/export_torchvision.py) through `cim run` twice, with one weight
# scale per layer and one per column (`--set data.weight_scale=...`): the float reference against
# onnxruntime, the crossbars against the float reference (largest difference over max |y|), the
# top-1 class and the wall time; one markdown row each (docs/architects.md).
#   NESTEVO=target/release/nestevo DIR=/tmp/tv scripts/weight_scale_torchvision.sh resnet101 ...
# Needs python3 with numpy; work files go to $WORK (default /tmp/nestevo-ws), removed after each.
set -u
B=${NESTEVO:-target/release/nestevo}; B=$(realpath "$B"); W=${WORK:-/tmp/nestevo-ws}; mkdir -p "$W"
PY=${PYTHON:-python3}; cd "${DIR:?DIR: the folder of the exports}"
for n in "$@"; do
  for mode in layer column; do
    s=$(date +%s.%N)
    if ! $B cim run --model $n.onnx --inputs ${n}_x.npy --set data.weight_scale=$mode --out "$W/run" > "$W/log" 2>&1; then
      echo "$n $mode FAILED $(tail -1 "$W/log" | cut -c1-300)"; continue
    fi
    e=$(date +%s.%N)
    "$PY" - "$n" "$mode" "$(echo "$e - $s" | bc)" "$W/run" <<'PY'
import sys, numpy as np
n, mode, wall, d = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
f = np.load(f"{d}/float.npy"); c = np.load(f"{d}/cim.npy"); ref = np.load(f"{n}_y.npy")
f = f.reshape(ref.shape); c = c.reshape(ref.shape)
fe = np.abs(f - ref).max() / np.abs(ref).max(); ce = np.abs(c - f).max() / np.abs(f).max()
same = "yes" if (c.argmax(-1) == ref.argmax(-1)).all() else "**no**"
print(f"| {n} | {mode} | {fe:.2e} | {ce:.2e} | {same} | {wall:.1f} |")
PY
    rm -rf "$W/run"
  done
done
