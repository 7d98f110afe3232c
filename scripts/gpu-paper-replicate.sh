#!/usr/bin/env bash
# On a lent GPU machine: one replicate of the paper preset (replicate 0's seeds, the preset's),
# every method as its own process side by side on the one GPU, LibTorch on CUDA: the wall time
# of a replicate when its methods run in parallel, and each method's own. Results under $OUT
# (per method summary.json, windows.csv, log; times.txt).
#   device run: carry ["target/release/nestevo", ".gpulib"] (.gpulib: see scripts/gpu-env.sh),
#               command scripts/gpu-paper-replicate.sh, timeout_s 400
#   METHODS (default "nestevo a2 a3 a4"), SETS (extra --set arguments for every method, e.g.
#   "--set generator.feature=0.1"), RUN_TIMEOUT (s, default 330).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu-paper-replicate}; mkdir -p "$out"
. scripts/gpu-env.sh
nproc; nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
SECONDS=0
for m in ${METHODS:-nestevo a2 a3 a4}; do
  (
    s0=$SECONDS
    # shellcheck disable=SC2086
    timeout "${RUN_TIMEOUT:-330}" target/release/nestevo evolve run --preset paper --method "$m" ${SETS:-} \
      --out "/tmp/paper-$m" > "$out/$m.log" 2>&1
    rc=$?
    echo "$m rc $rc wall $((SECONDS - s0)) s" | tee -a "$out/times.txt"
    mkdir -p "$out/$m"
    cp /tmp/paper-$m/summary.json /tmp/paper-$m/windows.csv "$out/$m/" 2>/dev/null
  ) &
done
wait
echo "replicate (methods side by side) wall ${SECONDS} s" | tee -a "$out/times.txt"
