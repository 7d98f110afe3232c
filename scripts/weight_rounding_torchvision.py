#!/usr/bin/env python3
"""How much rounding only the weights to 16 bits moves an exported network's output, with one
max-abs scale per tensor and with one per output channel, in onnxruntime alone
(docs/architects.md, "One weight scale per crossbar column").

  python scripts/weight_rounding_torchvision.py DIR resnet101 resnet152

Reads DIR/NAME.onnx and DIR/NAME_x.npy (scripts/export_torchvision.py), rounds every Conv and
Gemm weight (batch norm is already folded by the exporter) and prints the largest output change
over max |y|. Needs numpy, onnx and onnxruntime.
"""
import sys
import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper


def rounded(w, per_channel, bits=16):
    q = 2 ** (bits - 1) - 1
    if per_channel:
        m = np.abs(w.reshape(w.shape[0], -1)).max(1).reshape((-1,) + (1,) * (w.ndim - 1))
    else:
        m = np.abs(w).max()
    s = np.where(m > 0, m / q, 1.0)
    return (np.round(w / s) * s).astype(np.float32)


d = sys.argv[1]
for name in sys.argv[2:]:
    x = np.load(f"{d}/{name}_x.npy")
    run = lambda m: ort.InferenceSession(m.SerializeToString(),
                                         providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    y0 = run(onnx.load(f"{d}/{name}.onnx"))
    cells = []
    for per_channel in (False, True):
        m = onnx.load(f"{d}/{name}.onnx")
        weights = {n.input[1] for n in m.graph.node if n.op_type in ("Conv", "Gemm")}
        for init in m.graph.initializer:
            if init.name in weights:
                w = numpy_helper.to_array(init)
                init.CopyFrom(numpy_helper.from_array(rounded(w, per_channel), init.name))
        e = np.abs(run(m) - y0).max() / np.abs(y0).max()
        cells.append(f"{'per channel' if per_channel else 'per tensor'} {e:.2e}")
    print(f"{name}: " + ", ".join(cells))
