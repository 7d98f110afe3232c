#!/bin/bash
# For each exported network in DIR (scripts/export_torchvision.py): import, `cim report --json`
# and a bit-faithful `cim run` with its wall time; one markdown row each (docs/architects.md).
#   NESTEVO=target/release/nestevo DIR=/tmp/tv scripts/measure_torchvision.sh resnet18 ...
# Needs python3 with numpy; work files go to $WORK (default /tmp/nestevo-tv).
set -u
B=${NESTEVO:-target/release/nestevo}; B=$(realpath "$B"); W=${WORK:-/tmp/nestevo-tv}; mkdir -p "$W"
PY=${PYTHON:-python3}; cd "${DIR:?DIR: the folder of the exports}"
for n in "$@"; do
  if ! $B model import $n.onnx --out "$W/imp" > "$W/imp_$n.log" 2>&1; then echo "$n REFUSED $(tail -1 "$W/imp_$n.log" | cut -c1-300)"; continue; fi
  $B cim report --model $n.onnx --json > "$W/rep_$n.json"
  s=$(date +%s.%N); $B cim run --model $n.onnx --inputs ${n}_x.npy --out "$W/run_$n" > "$W/runlog_$n.log" 2>&1; e=$(date +%s.%N)
  "$PY" - "$n" "$(echo "$e - $s" | bc)" "$W" "$PWD" <<'PY'
import json, sys, numpy as np
n, wall, w, src = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4]
r = json.load(open(f"{w}/rep_{n}.json")); t = r["timing"]
d = f"{w}/run_{n}"
f = np.load(f"{d}/float.npy"); c = np.load(f"{d}/cim.npy"); ref = np.load(f"{src}/{n}_y.npy")
f = f.reshape(ref.shape); c = c.reshape(ref.shape)
fe = np.abs(f - ref).max() / np.abs(ref).max(); ce = np.abs(c - f).max() / np.abs(f).max()
b = t["bottleneck"]; dig = t["digital_ns"][b] >= t["layer_ns"][b] and t["digital_ns"][b] > 0
print(f"| {n} | {r['crossbars_used']} | {r['chips']} | {t['latency_ns']/1e3:.1f} | {t['period_ns']/1e3:.1f}{' (digital)' if dig else ''} | {r['energy_per_frame_uj']/1e3:.2f} | {fe:.1e} | {ce:.1e} | {bool((c.argmax(-1)==ref.argmax(-1)).all())} | {wall:.1f} | {np.abs(ref).max():.2g} |")
PY
done
