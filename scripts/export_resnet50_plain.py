#!/usr/bin/env python3
"""ResNet-50 (torchvision's architecture: bottleneck blocks 3-4-6-3, stride on the 3x3 conv) in
plain torch, seeded random weights, exported as scripts/export_torchvision.py does, for machines
with torch but without torchvision or onnxruntime (a lent GPU machine):

  python scripts/export_resnet50_plain.py OUT_DIR [IMAGES]

Writes OUT_DIR/resnet50.onnx (opset 17, the TorchScript exporter) and resnet50_x.npy (IMAGES
seeded [3, 224, 224] inputs, default 8). Batch-norm statistics come from 8 random images, so
every layer's activations are O(1).
"""
import os, sys, time
import numpy as np, torch
from torch import nn


class Bottleneck(nn.Module):
    def __init__(s, cin, width, stride):
        super().__init__()
        cout = 4 * width
        s.c1, s.b1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
        s.c2, s.b2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
        s.c3, s.b3 = nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout)
        s.down = None
        if stride != 1 or cin != cout:
            s.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(s, x):
        y = torch.relu(s.b1(s.c1(x)))
        y = torch.relu(s.b2(s.c2(y)))
        y = s.b3(s.c3(y))
        return torch.relu(y + (x if s.down is None else s.down(x)))


class ResNet50(nn.Module):
    def __init__(s):
        super().__init__()
        s.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        blocks, cin = [], 64
        for width, n, stride in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]:
            for i in range(n):
                blocks.append(Bottleneck(cin, width, stride if i == 0 else 1))
                cin = 4 * width
        s.blocks = nn.Sequential(*blocks)
        s.fc = nn.Linear(2048, 1000)

    def forward(s, x):
        return s.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(s.blocks(s.stem(x)), 1), 1))


out = sys.argv[1]
images = int(sys.argv[2]) if len(sys.argv) > 2 else 8
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)
m = ResNet50()
for mod in m.modules():
    if isinstance(mod, nn.BatchNorm2d):
        mod.momentum = None
        mod.reset_running_stats()
m.train()
with torch.no_grad():
    m(torch.randn(8, 3, 224, 224))
m.eval()
t = time.time()
p = os.path.join(out, "resnet50.onnx")
torch.onnx.export(m, (torch.randn(1, 3, 224, 224),), p, opset_version=17, dynamo=False,
                  input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
xs = np.random.default_rng(0).standard_normal((images, 3, 224, 224)).astype(np.float32)
np.save(os.path.join(out, "resnet50_x.npy"), xs)
print("resnet50 exported", round(time.time() - t, 1), "s", os.path.getsize(p) // 1_000_000, "MB", flush=True)
