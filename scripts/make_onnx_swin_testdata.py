#!/usr/bin/env python3
"""Tiny windowed vision transformers as torchvision builds them and torch.onnx exports them, for
the importer's tests (crates/couple/tests/couple/onnx_ops.rs), with onnxruntime's outputs.

swin: tests/data/onnx/swin.onnx, swin_x.npy ([1, 3, 20, 20]) and swin_y0.npy. The network:
patch 2 (a 10 x 10 token grid), embed 8, two stages of depth 2 with 2 heads, window 3. So its
graph holds what torchvision's swin_t holds: the window partition (a rank-6 Transpose of four
moving groups of axes), the cyclic shift (Slice + Concat), a Pad to whole windows that is not
0 here (10 -> 12 tokens, then 5 -> 6 after the patch merging), the relative-position bias and
the shifted-window mask added with broadcasting over windows and heads (the mask built by
ScatterND from constants), Q.K^T and A.V with windows and heads as two batch axes, Softmax on
the last of four axes, the patch merging's strided Slices, LayerNormalization, GELU.

swin_v2: the same with Swin V2's blocks and patch merging: the continuous position bias (an MLP
on a constant table, folded at import), cosine attention (F.normalize: ReduceL2, Clip, Expand,
Div of two activations; a clamped, exponentiated per-head scale).

maxvit: MaxViT at input 32 x 32 (stem 8 channels, blocks of 8 and 16 channels, partition 2,
head dim 4): MBConv with squeeze-and-excitation, block and grid attention whose products are
Einsum nodes (`BGHID,BGHJD->BGHIJ`, `BGHIJ,BGHJD->BGHID`), a classifier with LayerNormalization
of flat features and Tanh.

Needs torch, torchvision, onnx and onnxruntime (the project's .venv has torch; torchvision
0.26 beside it, installed without its dependencies). Seeded: the same files every run.
"""
import os

import numpy as np
import onnxruntime as ort
import torch
from torchvision.models.maxvit import MaxVit
from torchvision.models.swin_transformer import (
    PatchMergingV2, SwinTransformer, SwinTransformerBlockV2,
)

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "onnx")


def export(name, m, size):
    # The relative-position tables start near 0 (std 0.02); larger values test the bias path.
    with torch.no_grad():
        for pname, p in m.named_parameters():
            if "relative_position_bias_table" in pname:
                p.normal_(0.0, 0.5)
    m.eval()
    path = os.path.join(OUT, f"{name}.onnx")
    x = torch.randn(1, 3, size, size)
    torch.onnx.export(m, (x,), path, opset_version=17, dynamo=False, input_names=["x"],
                      output_names=["y"])
    xs = np.random.default_rng(22).standard_normal((1, 3, size, size)).astype(np.float32)
    y = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": xs})[0]
    np.save(os.path.join(OUT, f"{name}_x.npy"), xs)
    np.save(os.path.join(OUT, f"{name}_y0.npy"), y)
    print(f"{name}.onnx", os.path.getsize(path), "bytes; output", y.shape)


torch.manual_seed(22)
export("swin", SwinTransformer(
    patch_size=[2, 2], embed_dim=8, depths=[2, 2], num_heads=[2, 2], window_size=[3, 3],
    num_classes=5,
), 20)
torch.manual_seed(23)
export("swin_v2", SwinTransformer(
    patch_size=[2, 2], embed_dim=8, depths=[2, 2], num_heads=[2, 2], window_size=[3, 3],
    num_classes=5, block=SwinTransformerBlockV2, downsample_layer=PatchMergingV2,
), 20)
torch.manual_seed(24)
export("maxvit", MaxVit(
    input_size=(32, 32), stem_channels=8, partition_size=2, block_channels=[8, 16],
    block_layers=[1, 1], head_dim=4, stochastic_depth_prob=0.0, num_classes=5,
), 32)
