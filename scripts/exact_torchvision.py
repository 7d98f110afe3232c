#!/usr/bin/env python3
"""How far each float32 implementation of an exported torchvision network lies from its exact
result (the same PyTorch model in float64), on the export's input (docs/architects.md, "The
float reference against the exact result").

  python scripts/exact_torchvision.py DIR NESTEVO resnet101 resnet152 ...

Rebuilds NAME exactly as scripts/export_torchvision.py made DIR/NAME.onnx (seed 0, batch-norm
statistics from 8 random images), runs it in float64 on DIR/NAME_x.npy, and prints the largest
difference over max |y| of onnxruntime's output (DIR/NAME_y.npy), PyTorch's float32 output and
`NESTEVO cim run`'s float reference and crossbars, against the exact result and against
onnxruntime. Needs torch, torchvision and numpy; no weights are downloaded.
"""
import os, subprocess, sys, tempfile
import numpy as np
import torch, torchvision

d, nestevo = sys.argv[1], os.path.realpath(sys.argv[2])
print("| network | onnxruntime vs exact | PyTorch f32 vs exact | nestevo float vs exact | "
      "PyTorch f32 vs onnxruntime | nestevo float vs onnxruntime | crossbars vs exact |")
print("|---|---|---|---|---|---|---|")
for name in sys.argv[3:]:
    torch.manual_seed(0)
    m = getattr(torchvision.models, name)(weights=None).eval()
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.momentum = None
            mod.reset_running_stats()
    for mod in m.modules():
        if isinstance(mod, torch.nn.Linear) and not mod.weight.any():
            torch.nn.init.normal_(mod.weight, std=0.02)
    m.train()
    with torch.no_grad():
        m(torch.randn(8, 3, 224, 224))
    m.eval()
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
