#!/bin/bash
# The 1024x1024 ISAAC layer x 256 vectors against its bounds and against CrossSim, in one run
# (docs/simulator.md, "Benchmark"). Writes to OUT (default docs/results/kernels):
#   cpu.txt                 the CPU and whether it has AVX-512
#   layer-avx2.json         the kernels capped at AVX2 (NESTEVO_SIMD=avx2), as on a CPU without AVX-512
#   layer-auto.json         the kernels on the CPU's best tier
#   numpy.json              numpy's f64 and f32 products of the shape, and 128 binary-input f32 products
#   numpy-haswell.json      the same with OpenBLAS's AVX2 (Haswell) kernels: the bounds of a CPU without AVX-512
#   crosssim.json           with CROSSSIM_PATH set to a CrossSim 3.2 checkout (scripts/crosssim_layer.py)
# Needs python3 with numpy (threadpoolctl optional). ROUNDS (default 5) rounds each.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-docs/results/kernels}; ROUNDS=${ROUNDS:-5}; mkdir -p "$OUT"
cargo build --release -q -p nestevo-kernels --example layer
{
  lscpu | grep -E "Model name|^CPU\(s\)"
  if grep -q avx512_vpopcntdq /proc/cpuinfo; then echo "AVX-512 VPOPCNTDQ: yes"; else echo "AVX-512 VPOPCNTDQ: no"; fi
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/cpu.txt"
for tier in avx2 auto; do
  echo "kernels, NESTEVO_SIMD=$tier" >&2
  NESTEVO_SIMD=$tier target/release/examples/layer "$ROUNDS" --json > "$OUT/layer-$tier.json.tmp"
  mv "$OUT/layer-$tier.json.tmp" "$OUT/layer-$tier.json"
done
numpy_bounds() {
python3 - "$ROUNDS" "$1" <<'PY'
import json, os, sys, time
import numpy as np
rounds, out = int(sys.argv[1]), sys.argv[2]
try:
    from threadpoolctl import threadpool_limits, threadpool_info
    threadpool_limits(2)
    blas = [{k: i.get(k) for k in ("internal_api", "num_threads", "architecture", "version")} for i in threadpool_info()]
except ImportError:
    blas = "threadpoolctl not installed: BLAS threads as numpy chose"
rng = np.random.default_rng(1)
B, K, N = 256, 1024, 1024
x = rng.integers(0, 65536, (B, K)); w = rng.integers(-32768, 32768, (K, N))
cases = {
    "f64_product": (x.astype(np.float64), w.astype(np.float64), 1),
    "f32_product": (x.astype(np.float32), w.astype(np.float32), 1),
    "f32_binary_x128": ((x & 1).astype(np.float32), (w & 3).astype(np.float32), 128),
}
res = {}
for name, (a, b, reps) in cases.items():
    ts = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        ts.append((time.perf_counter() - t) * 1e3)
    ts.sort()
    res[name] = {"min_ms": round(ts[0], 2), "median_ms": round(ts[len(ts) // 2], 2)}
res["blas"] = blas
tmp = out + ".tmp"; json.dump(res, open(tmp, "w"), indent=1); os.replace(tmp, out)
print(json.dumps(res))
PY
}
echo "numpy" >&2
numpy_bounds "$OUT/numpy.json"
echo "numpy, OpenBLAS Haswell kernels" >&2
OPENBLAS_CORETYPE=Haswell numpy_bounds "$OUT/numpy-haswell.json"
if [ -n "${CROSSSIM_PATH:-}" ]; then
  echo "CrossSim at $CROSSSIM_PATH" >&2
  python3 scripts/crosssim_layer.py --crosssim "$CROSSSIM_PATH" --rounds 3 --json "$OUT/crosssim.json"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/cpu.txt"
cat "$OUT"/layer-*.json
