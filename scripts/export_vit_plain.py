#!/usr/bin/env python3
"""A ViT in plain torch, batch-first attention (as DeiT/timm-style code writes it), exported
like scripts/export_torchvision.py does: OUT_DIR NAME DEPTH DIM HEADS (ViT-B/16: 12 768 12).
torchvision's vit_b_16 goes through nn.MultiheadAttention, whose export moves the batch axis,
which the importer refuses; this one has the same arithmetic with the batch kept first.
"""
# A ViT-B/16 in plain torch (the arithmetic of torchvision's vit_b_16, with attention written
# batch-first as DeiT/timm-style code does, not through nn.MultiheadAttention).
import sys, os, time, torch, numpy as np, onnxruntime as ort
from torch import nn

class Attn(nn.Module):
    def __init__(s, d, h):
        super().__init__(); s.h = h; s.q = nn.Linear(d, d); s.k = nn.Linear(d, d); s.v = nn.Linear(d, d); s.o = nn.Linear(d, d)
    def forward(s, x):
        B, N, D = x.shape; dh = D // s.h
        q = s.q(x).reshape(B, N, s.h, dh).transpose(1, 2)
        k = s.k(x).reshape(B, N, s.h, dh).transpose(1, 2)
        v = s.v(x).reshape(B, N, s.h, dh).transpose(1, 2)
        a = (q @ k.transpose(-2, -1) * dh ** -0.5).softmax(-1)
        return s.o((a @ v).transpose(1, 2).reshape(B, N, D))

class Block(nn.Module):
    def __init__(s, d, h):
        super().__init__(); s.n1 = nn.LayerNorm(d, eps=1e-6); s.a = Attn(d, h); s.n2 = nn.LayerNorm(d, eps=1e-6)
        s.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
    def forward(s, x):
        x = x + s.a(s.n1(x)); return x + s.mlp(s.n2(x))

class ViT(nn.Module):
    def __init__(s, depth, d, h, classes=1000, img=224, p=16):
        super().__init__(); n = (img // p) ** 2
        s.patch = nn.Conv2d(3, d, p, p); s.cls = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        s.pos = nn.Parameter(torch.randn(1, n + 1, d) * 0.02)
        s.blocks = nn.Sequential(*[Block(d, h) for _ in range(depth)]); s.norm = nn.LayerNorm(d, eps=1e-6); s.head = nn.Linear(d, classes)
    def forward(s, x):
        x = s.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([s.cls.expand(x.shape[0], -1, -1), x], 1) + s.pos
        return s.head(s.norm(s.blocks(x))[:, 0])

out, name, depth, d, h = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.manual_seed(0); m = ViT(depth, d, h).eval(); x = torch.randn(1, 3, 224, 224)
p = os.path.join(out, f"{name}.onnx")
torch.onnx.export(m, (x,), p, opset_version=17, dynamo=False, input_names=["x"], output_names=["y"])
xs = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
y = ort.InferenceSession(p, providers=["CPUExecutionProvider"]).run(None, {"x": xs})[0]
np.save(os.path.join(out, f"{name}_x.npy"), xs); np.save(os.path.join(out, f"{name}_y.npy"), y)
print(name, "exported", os.path.getsize(p) // 1_000_000, "MB")
