#!/usr/bin/env python3
"""ResNet-18 and VGG-16 (torchvision's architectures, written in plain torch: torchvision is
not installed) exported to ONNX, to check that an imported network maps exactly as the
hand-written descriptions models/resnet18.toml and models/vgg16.toml do.

  .venv/bin/python scripts/export_onnx_references.py OUTDIR
  -> OUTDIR/resnet18.onnx (47 MB), OUTDIR/vgg16.onnx (553 MB)   (not committed: large)

Weights are seeded random (the mapping does not depend on them). Batch norms are exported in
eval mode; the exporter folds them into the convolutions. VGG-16's adaptive average pool to
7x7 is left out, as in models/vgg16.toml: at 224x224 its input is already 7x7.
scripts/check_onnx_reports.sh compares the reports.
"""
import sys

import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + (x if self.down is None else self.down(x)))


class ResNet18(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))
        layers, cin = [], 64
        for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, 1000)

    def forward(self, x):
        x = self.layers(self.stem(x))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def vgg16():
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    layers, cin = [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU()]
            cin = v
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(),
                         nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 1000))


def export(model, path):
    model.eval()
    x = torch.zeros(1, 3, 224, 224)
    torch.onnx.export(model, (x,), path, dynamo=False, opset_version=13, input_names=["x"],
                      output_names=["logits"], dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}})
    print("wrote", path)


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/onnx-refs"
    torch.manual_seed(0)
    import os
    os.makedirs(out, exist_ok=True)
    export(ResNet18(), os.path.join(out, "resnet18.onnx"))
    export(vgg16(), os.path.join(out, "vgg16.onnx"))
