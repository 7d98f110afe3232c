#!/usr/bin/env python3
"""Time Sandia CrossSim 3.2 on one ISAAC layer, next to numpy, in one run.

What it measures
----------------
One layer: a 1024x1024 matrix W (K = N = 1024) times a 1024x256 input
matrix X (256 input vectors). W holds random signed 16-bit integers
(-32768..32767), X random unsigned 16-bit integers (0..65535); both are
passed to CrossSim as float64 (integer arrays would be cast to float32
inside CrossSim and lose precision).

Two CrossSim AnalogCores are built from CrossSim's own ISAAC config
(simulator/configs/ISAAC.json: 128x128 arrays, offset bit slicing with a
unit column, 8 weight slices of 2-bit cells, 1-bit input slices, 9-bit
SignMagnitudeADC per input bit with GRANULAR range, no column flipping,
Rmin 2 kOhm / Rmax 2 MOhm):
  ideal  -- devices error-free (as the config ships);
  noisy  -- programming error, model "NormalIndependentDevice": each
            normalized conductance gets an additive Gaussian with
            sigma = 0.01 * (Gmax - Gmin) (magnitude = 0.01 * Grange_norm,
            Gmax normalized to 1), drawn once when the matrix is programmed.
            Of CrossSim's generic models this is the one that is exactly
            sigma = 0.01 x conductance range per cell (the Proportional
            ones scale with G, the Uniform ones are not Gaussian).
Changes to ISAAC.json, all to map the integer ranges exactly:
  weights: percentile off, min = -32768, max = 32767;
  inputs:  DAC bits 16 -> 17 (sign + 16 magnitude bits; SignMagnitudeDAC
           needs a symmetric range) with range -65535..65535. Inputs are
           never negative, so this is 16 one-bit input slices as in ISAAC.
The ideal output is compared with numpy's exact product (max |error| over
max |exact|). CrossSim's finite on/off ratio gives the ideal core a pure
global gain of about 1/(1 - Rmin/Rmax) = 1.001 (the ADC snaps currents to
whole levels, then the result is divided by Grange_norm); the script also
prints the gain and the error left after removing it. --infinite-on-off
sets Rmax to infinity instead (then the error is ~3e-5, a gain of
65536/65534 from the 2*max vs. range weight scaling and the ADC/DAC
corrections).

Timed, R rounds each (min and median ms): CrossSim `core @ X` (AnalogCore
matmat) for both cores, and numpy W @ X in float64 and in float32.
Programming time (AnalogCore construction) is printed once per core.
Threads: numpy's products use --threads BLAS threads (default 2); CrossSim
uses --crosssim-threads (default 1). CrossSim's matmat is ~8k small GEMMs
(129x128 by 128x256) plus elementwise ADC work; on a loaded 2-core box
2-thread OpenBLAS made it 10-30x slower (4 s -> 50-120 s), so 1 is the
default. Different counts need threadpoolctl (pip install threadpoolctl);
without it pass equal counts.

How to run
----------
CrossSim is not part of this repository and this script never downloads
anything. Fetch it yourself (https://github.com/sandialabs/cross-sim,
release 3.2.0; needs numpy and scipy), then:

    python3 scripts/crosssim_layer.py --crosssim /path/to/cross-sim \
        [--rounds 3] [--json out.json]

or set CROSSSIM_PATH instead of --crosssim. With the defaults one run
takes about 30-40 s (two untimed CrossSim calls for the error check, then
R timed calls per core at ~4 s each).
"""

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time

K = N = 1024
M = 256
SIGMA = 0.01


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--crosssim", default=os.environ.get("CROSSSIM_PATH"),
                    help="CrossSim checkout (default: $CROSSSIM_PATH)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", dest="json_out", default=None)
    ap.add_argument("--threads", type=int, default=2,
                    help="BLAS threads for the numpy products")
    ap.add_argument("--crosssim-threads", type=int, default=1,
                    help="BLAS threads while CrossSim runs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--infinite-on-off", action="store_true",
                    help="set infinite_on_off_ratio (not the ISAAC default)")
    a = ap.parse_args()
    if not a.crosssim:
        ap.error("give --crosssim PATH or set CROSSSIM_PATH")
    if a.rounds < 1:
        ap.error("--rounds must be >= 1")
    return a


def time_rounds(fn, rounds):
    ms = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t) * 1e3)
    return {"ms": ms, "min_ms": min(ms), "median_ms": statistics.median(ms)}


def git_rev(path):
    try:
        return subprocess.run(["git", "-C", path, "rev-parse", "HEAD"],
                              capture_output=True, text=True,
                              check=True).stdout.strip()
    except Exception:  # noqa: BLE001 - informational only
        return None


def main():
    a = parse_args()
    # BLAS pool size is fixed at numpy load; threadpoolctl narrows it later.
    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[v] = str(max(a.threads, a.crosssim_threads))
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        if a.threads != a.crosssim_threads:
            sys.exit("--threads != --crosssim-threads needs threadpoolctl "
                     "(pip install threadpoolctl)")
        threadpool_info = threadpool_limits = None
    crosssim = os.path.abspath(a.crosssim)
    config = os.path.join(crosssim, "simulator", "configs", "ISAAC.json")
    if not os.path.isfile(config):
        sys.exit(f"no CrossSim checkout at {crosssim} (missing {config})")
    sys.path.insert(0, crosssim)

    import numpy as np
    from simulator import AnalogCore, CrossSimParameters

    def make_params(noisy):
        p = CrossSimParameters.from_json(config)
        w = p.core.mapping.weights
        w.percentile = None
        w.min, w.max = -32768.0, 32767.0
        p.xbar.dac.mvm.bits = 17
        p.core.mapping.inputs.mvm.min = -65535.0
        p.core.mapping.inputs.mvm.max = 65535.0
        d = p.xbar.device
        if a.infinite_on_off:
            d.infinite_on_off_ratio = True
        if noisy:
            d.programming_error.enable = True
            d.programming_error.model = "NormalIndependentDevice"
            d.programming_error.magnitude = SIGMA * d.Grange_norm
        return p

    rng = np.random.default_rng(a.seed)
    W = rng.integers(-32768, 32768, size=(N, K)).astype(np.float64)
    X = rng.integers(0, 65536, size=(K, M)).astype(np.float64)
    exact = W @ X  # exact: |sums| < 2^53
    scale = float(np.abs(exact).max())
    W32, X32 = W.astype(np.float32), X.astype(np.float32)

    np.random.seed(a.seed)  # CrossSim draws noise from numpy's global RNG
    def blas_threads(n):
        if threadpool_limits is None:
            return contextlib.nullcontext()
        return threadpool_limits(limits=n, user_api="blas")

    res = {"shape": {"K": K, "N": N, "M": M}, "threads": a.threads,
           "crosssim_threads": a.crosssim_threads,
           "blas": threadpool_info() if threadpool_info else None,
           "rounds": a.rounds, "seed": a.seed, "crosssim_path": crosssim,
           "crosssim_commit": git_rev(crosssim), "numpy": np.__version__,
           "python": platform.python_version(), "cores": {}}
    print(f"layer {N}x{K} x {M} vectors, numpy threads {a.threads}, "
          f"CrossSim threads {a.crosssim_threads}, rounds {a.rounds}, "
          f"CrossSim {res['crosssim_commit']}")

    cores = {}
    for name, noisy in (("crosssim_ideal", False), ("crosssim_noisy", True)):
        p = make_params(noisy)
        t = time.perf_counter()
        with blas_threads(a.crosssim_threads):
            core = AnalogCore(W, p)
            build_ms = (time.perf_counter() - t) * 1e3
            Y = core @ X  # also the warm-up call
        err = np.abs(Y - exact)
        gain = float((Y * exact).sum() / (exact * exact).sum())
        info = {
            "build_ms": build_ms,
            "programming_error": (p.xbar.device.programming_error.model
                                  if noisy else "none"),
            "programming_error_magnitude": (
                p.xbar.device.programming_error.magnitude if noisy else 0.0),
            "Grange_norm": p.xbar.device.Grange_norm,
            "max_rel_err": float(err.max()) / scale,
            "rms_rel_err": float(np.sqrt((err**2).mean())) / scale,
            "gain": gain,
            "max_rel_err_after_gain":
                float(np.abs(Y - gain * exact).max()) / scale,
        }
        res["cores"][name] = info
        cores[name] = core
        print(f"{name}: built in {build_ms:.0f} ms; error vs exact "
              f"(/max|exact|): max {info['max_rel_err']:.3e} "
              f"rms {info['rms_rel_err']:.3e}; gain {gain:.9f}, "
              f"max after gain {info['max_rel_err_after_gain']:.3e}")

    with blas_threads(a.threads):
        W @ X  # numpy warm-up
        W32 @ X32
    runs = {
        "crosssim_ideal": (a.crosssim_threads,
                           lambda: cores["crosssim_ideal"] @ X),
        "crosssim_noisy": (a.crosssim_threads,
                           lambda: cores["crosssim_noisy"] @ X),
        "numpy_f64": (a.threads, lambda: W @ X),
        "numpy_f32": (a.threads, lambda: W32 @ X32),
    }
    res["timings"] = {}
    for name, (nt, fn) in runs.items():
        with blas_threads(nt):
            r = time_rounds(fn, a.rounds)
        r["threads"] = nt
        res["timings"][name] = r
        print(f"{name:15s} min {r['min_ms']:10.2f} ms  "
              f"median {r['median_ms']:10.2f} ms")

    p = make_params(False)
    res["config"] = {
        "base": "simulator/configs/ISAAC.json",
        "rows_max": p.core.rows_max, "cols_max": p.core.cols_max,
        "weight_bits": p.core.weight_bits,
        "num_slices": p.core.bit_sliced.num_slices,
        "bitslice_style": p.core.bit_sliced.style.name,
        "offset_style": p.core.offset.style.name,
        "cell_bits": p.xbar.device.cell_bits,
        "Rmin": p.xbar.device.Rmin, "Rmax": p.xbar.device.Rmax,
        "infinite_on_off_ratio": p.xbar.device.infinite_on_off_ratio,
        "adc": {"model": p.xbar.adc.mvm.model, "bits": p.xbar.adc.mvm.bits,
                "range_option": p.xbar.adc.mvm.adc_range_option.name,
                "per_input_bit": p.xbar.adc.mvm.adc_per_ibit},
        "dac": {"model": p.xbar.dac.mvm.model, "bits": p.xbar.dac.mvm.bits,
                "slice_size": p.xbar.dac.mvm.slice_size},
        "weight_range": [p.core.mapping.weights.min,
                         p.core.mapping.weights.max],
        "input_range": [p.core.mapping.inputs.mvm.min,
                        p.core.mapping.inputs.mvm.max],
        "noisy_model": "NormalIndependentDevice, sigma = "
                       f"{SIGMA} * Grange_norm",
    }
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(res, f, indent=2)
        print(f"wrote {a.json_out}")


if __name__ == "__main__":
    main()
