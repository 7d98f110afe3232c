#!/usr/bin/env bash
# Training step time of the same detector, same batch, same machine, in the same run: tch
# (the nestevo binary) against PyTorch (Python). Prints both JSON lines and the ratio.
# Usage: benches/train_speed.sh [MODEL.toml] [STEPS] [BATCH] [cpu|cuda] [THREADS]
# THREADS (default: LibTorch's own choice) is set for both through OMP_NUM_THREADS.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-models/terminal.toml}; steps=${2:-30}; batch=${3:-32}; dev=${4:-cpu}
if [ -n "${5:-}" ]; then export OMP_NUM_THREADS=$5; fi
bin=${NESTEVO_BIN:-target/release/nestevo}
py=${PYTHON:-.venv/bin/python}
cpu_flag=$([ "$dev" = cpu ] && echo --cpu || true)
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
# Alternate the two twice so that a change in the machine's load hits both alike.
for round in 1 2; do
  rs=$("$bin" bench train-step --steps "$steps" --model "$model" --batch "$batch" $cpu_flag)
  pt=$("$py" benches/train_speed.py --model "$model" --steps "$steps" --batch "$batch" --device "$dev")
  echo "$rs"; echo "$pt"
  python3 - "$rs" "$pt" <<'PY'
import json, sys
r, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{r['model']} batch {r['batch']} on {r['device']}: tch {r['ms_per_step']:.1f} ms/step "
      f"({r['frames_per_s']:.0f} frames/s), PyTorch {p['ms_per_step']:.1f} ms/step "
      f"({p['frames_per_s']:.0f} frames/s), tch/PyTorch = {r['ms_per_step']/p['ms_per_step']:.3f}")
PY
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
