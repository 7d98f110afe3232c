#!/usr/bin/env python3
"""How far each float32 implementation of an exported torchvision network lies from its exact
result (the same PyTorch model in float64), on the export's input (docs/architects.md, "The
float reference against the exact result").

  python scripts/exact_torchvision.py DIR NESTEVO resnet101 resnet152 ...

Rebuilds NAME with scripts/export_torchvision.py's `build` (seed 0, batch-norm statistics from 8
random images), as it made DIR/NAME.onnx, runs it in float64 on DIR/NAME_x.npy, and prints the
largest difference over max |y| of onnxruntime's output (DIR/NAME_y.npy), PyTorch's float32 output and
`NESTEVO cim run`'s float reference and crossbars, against the exact result and against
onnxruntime. Needs torch, torchvision and numpy; no weights are downloaded.
"""
import os, subprocess, sys, tempfile
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_torchvision import build  # noqa: E402

d, nestevo = sys.argv[1], os.path.realpath(sys.argv[2])
print("| network | onnxruntime vs exact | PyTorch f32 vs exact | nestevo float vs exact | "
      "PyTorch f32 vs onnxruntime | nestevo float vs onnxruntime | crossbars vs exact |")
print("|---|---|---|---|---|---|---|")
for name in sys.argv[3:]:
    m, _ = build(name)
    x = np.load(f"{d}/{name}_x.npy")
    ort = np.load(f"{d}/{name}_y.npy")
    with torch.no_grad():
        t32 = m(torch.from_numpy(x)).numpy()
        exact = m.double()(torch.from_numpy(x).double()).numpy()
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([nestevo, "cim", "run", "--model", f"{d}/{name}.onnx", "--inputs",
                        f"{d}/{name}_x.npy", "--out", out], check=True, capture_output=True)
        f = np.load(f"{out}/float.npy").reshape(ort.shape)
        c = np.load(f"{out}/cim.npy").reshape(ort.shape)
    r = lambda a, b: np.abs(a - b).max() / np.abs(b).max()
    print(f"| {name} | {r(ort, exact):.2e} | {r(t32, exact):.2e} | {r(f, exact):.2e} | "
          f"{r(t32, ort):.2e} | {r(f, ort):.2e} | {r(c, exact):.2e} |")
