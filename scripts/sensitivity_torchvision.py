#!/usr/bin/env python3
"""How much an exported network's own output moves under an input perturbation the size of a
quantisation step, in onnxruntime alone (docs/architects.md, "The deepest ResNets").

  python scripts/sensitivity_torchvision.py DIR resnet50 resnet101 resnet152

Reads DIR/NAME.onnx and DIR/NAME_x.npy (scripts/export_torchvision.py) and prints, for a uniform
perturbation of +-rel * max|x| (rel = 1e-7, about float32 rounding, to 3e-5, about one step of a
16-bit quantiser), the largest output change relative to max|y| and whether the top-1 class
stays; then the same for the input alone rounded to a B-bit code as the crossbars round every
layer's input (max-abs scale, two's complement where the input has negatives, unsigned
otherwise; B = 16, ISAAC's, and 18, 20, 24). Needs numpy and onnxruntime; seeded, so the
figures repeat.
"""
import sys
import numpy as np
import onnxruntime as ort

out_dir = sys.argv[1]
for name in sys.argv[2:]:
    s = ort.InferenceSession(f"{out_dir}/{name}.onnx", providers=["CPUExecutionProvider"])
    x = np.load(f"{out_dir}/{name}_x.npy")
    y = s.run(None, {"x": x})[0]
    m = np.abs(y).max()
    cells = []
    for rel in [1e-7, 1e-6, 1e-5, 3e-5]:
        rng = np.random.default_rng(1)
        dx = rng.uniform(-1, 1, x.shape).astype(np.float32) * rel * np.abs(x).max()
        yp = s.run(None, {"x": (x + dx).astype(np.float32)})[0]
        same = "same" if yp.argmax() == y.argmax() else "differs"
        cells.append(f"{rel:.0e}: {np.abs(yp - y).max() / m:.2e} (top-1 {same})")
    print(f"{name}: " + " | ".join(cells))
    codes = []
    for bits in [16, 18, 20, 24]:
        q = (2 ** (bits - 1) - 1) if x.min() < 0 else (2 ** bits - 1)
        scale = np.abs(x).max() / q
        xq = (np.round(x / scale) * scale).astype(np.float32)
        yq = s.run(None, {"x": xq})[0]
        same = "same" if yq.argmax() == y.argmax() else "differs"
        codes.append(f"{bits} bits: {np.abs(yq - y).max() / m:.2e} (top-1 {same})")
    print(f"{name}, input rounded: " + " | ".join(codes))
