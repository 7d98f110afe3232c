#!/usr/bin/env python3
"""torchvision classifiers with seeded random weights, exported for `nestevo model import`,
with onnxruntime's output on one seeded input (docs/architects.md, "Which networks run").

  python scripts/export_torchvision.py OUT_DIR resnet18 mobilenet_v3_small ...

Writes OUT_DIR/NAME.onnx (opset 17, the legacy TorchScript exporter), NAME_x.npy (one
[1, 3, 224, 224] input; 299 for inception_v3) and NAME_y.npy (onnxruntime's output). Needs
torch, torchvision, onnx and onnxruntime; no weights are downloaded (weights=None).
"""
import sys, os, time, torch, torchvision, numpy as np


def build(name):
    """The seeded network NAME in eval mode and its input size (scripts/exact_torchvision.py
    rebuilds the same one)."""
    torch.manual_seed(0)
    kw = {"aux_logits": False, "init_weights": True} if name in ("googlenet", "inception_v3") else {}
    m = getattr(torchvision.models, name)(weights=None, **kw).eval()
    size = 299 if name == "inception_v3" else 224
    # Batch-norm statistics from 8 random images (cumulative average), so every layer's
    # activations are O(1): the default inits with unit running variances shrink some
    # outputs to 1e-14 or to the bias alone, where a comparison says little.
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.momentum = None
            mod.reset_running_stats()
    # A zero-initialised classifier (ViT's head) would make every output 0.
    for mod in m.modules():
        if isinstance(mod, torch.nn.Linear) and not mod.weight.any():
            torch.nn.init.normal_(mod.weight, std=0.02)
    m.train()
    with torch.no_grad():
        m(torch.randn(8, 3, size, size))
    return m.eval(), size


if __name__ == "__main__":
    import onnxruntime as ort
    out = sys.argv[1]; names = sys.argv[2:]
    for name in names:
        m, size = build(name)
        x = torch.randn(1, 3, size, size)
        p = os.path.join(out, f"{name}.onnx")
        t = time.time()
        torch.onnx.export(m, (x,), p, opset_version=17, dynamo=False, input_names=["x"], output_names=["y"])
        xs = np.random.default_rng(0).standard_normal((1, 3, size, size)).astype(np.float32)
        y = ort.InferenceSession(p, providers=["CPUExecutionProvider"]).run(None, {"x": xs})[0]
        np.save(os.path.join(out, f"{name}_x.npy"), xs); np.save(os.path.join(out, f"{name}_y.npy"), y)
        print(name, "exported", round(time.time() - t, 1), "s", os.path.getsize(p) // 1_000_000, "MB", flush=True)
