#!/usr/bin/env python3
"""Tiny ONNX graphs of the ops beyond plain CNNs, for the importer's tests
(crates/couple/tests/couple/onnx_ops.rs), with inputs and onnxruntime's reference outputs.

Writes tests/data/onnx/ (each NAME.onnx with NAME_x.npy and NAME_y0.npy, NAME_y1.npy, ...):
  pool_pad     MaxPool with ceil_mode = 1 (GoogLeNet), Conv with pads [0, 3, 0, 3] (Inception),
               AveragePool with unequal pads
  acts         Sigmoid, HardSigmoid, HardSwish, Tanh, SiLU (Sigmoid * x), GELU as torch
               exports it at opset 17 (Div, Erf, Add, Mul, Mul)
  excite       squeeze-and-excitation: ReduceMean (keepdims 1), Conv, Relu, Conv, HardSigmoid,
               Mul of two activations; Div of two activations; ReduceMean (keepdims 0) + Gemm
  shuffle      ShuffleNet's channel shuffle (Reshape to rank 5, Transpose, Reshape), Split and
               Concat on channels, Slice on H, Concat on W
  convnext     ConvNeXt block: depthwise Conv, Transpose to NHWC, LayerNormalization, MatMul +
               Add, GELU, MatMul + Add, Transpose back, residual Add
  attention    a pre-norm transformer block on [N, 6, 8] tokens, 2 heads: LayerNormalization,
               Q/K/V MatMul + Add, Reshape, Transpose, MatMul of two activations (Q.K^T, A.V),
               scale, Softmax, output projection, residual, MLP with GELU; Gather of the first
               token and a MatMul head
  fold_const   shape arithmetic folded at import (Shape, Gather, Div, Unsqueeze, Concat into a
               Reshape's target, as exporters write a channel shuffle), a layer-scale Mul by a
               [C, 1, 1] constant, a class token Concat and a position-embedding Add (constants
               that become `const` layers)
  mha          attention as torch exports nn.MultiheadAttention (torchvision's ViT): the batch
               axis moved and merged ([N, L, E] -> [L, N, E], heads folded into the batch),
               a fused in-projection, a rank-5 Transpose, Squeeze, Gather of q/k/v, a Gemm on
               [L, E] rows; batch 1, as such graphs are exported
  unsupported_cos  a Cos node named `head/cos` (refused)
  pad          Pad in constant mode with value 0.5 on channels and on W of [N, C, H, W], and on
               the token axis of [N, L, E] after a Reshape
  pad_reflect  a Pad in reflect mode named `body/pad` (refused, naming the mode)
  einsum       Einsum as batched products: x.x^T (`bik,bjk->bij`), x^T.x (`bki,bkj->bij`) and
               heads as a second batch axis (`bhik,bhkj->bhij`)
  einsum_outer an Einsum that is no matrix product (`bi,bj->bij`) named `head/outer` (refused)
  external     a Conv + Gemm whose weights are kept in external data (external.bin beside it,
               one file for all tensors, as models over 2 GB are saved)
  external_escape  the same graph with a location outside the model's folder (refused)
  norms        after a 1x1 Conv: Exp, Sqrt of a Relu, Clip(-0.5, 0.7), ReduceL2 over channels (keepdims 1) and
               over W (keepdims 0), Expand of a [N, C, 1, 1] gate to [N, C, H, W], F.normalize
               as Swin V2 writes it (ReduceL2, Clip, Expand, Div)

Needs onnx, onnxruntime and numpy in a virtualenv of their own:
  python3 -m venv /tmp/onnxvenv && /tmp/onnxvenv/bin/pip install onnx onnxruntime numpy
  /tmp/onnxvenv/bin/python scripts/make_onnx_ops_testdata.py
Seeded: the files come out the same every run.
"""
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "onnx")
OPSET = 17
rng = np.random.default_rng(22)
n = helper.make_node


def init(name, shape, scale=0.3):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def const(name, values, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def build(name, nodes, x_shape, outs, inits, batch=2):
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *x_shape])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    # The outputs' shapes, from onnx's own inference.
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    onnx.checker.check_model(model)
    path = os.path.join(OUT, f"{name}.onnx")
    onnx.save(model, path)
    x = rng.standard_normal((batch, *x_shape)).astype(np.float32)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    ys = sess.run(None, {"x": x})
    np.save(os.path.join(OUT, f"{name}_x.npy"), x)
    for k, y in enumerate(ys):
        np.save(os.path.join(OUT, f"{name}_y{k}.npy"), y)


def pool_pad():
    build("pool_pad", [
        n("MaxPool", ["x"], ["y0"], name="pool/ceil", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
        n("Conv", ["x", "w", "b"], ["y1"], name="conv/asym", kernel_shape=[1, 7], pads=[0, 3, 0, 3]),
        n("AveragePool", ["x"], ["y2"], name="avg/asym", kernel_shape=[2, 2], pads=[1, 0, 0, 1],
          count_include_pad=1),
        n("MaxPool", ["x"], ["y3"], name="pool/ceil_pad", kernel_shape=[3, 3], strides=[2, 2],
          pads=[1, 1, 1, 1], ceil_mode=1),
    ], [3, 10, 10], ["y0", "y1", "y2", "y3"], [init("w", (4, 3, 1, 7)), init("b", (4,), 0.1)])


def gelu(x, out, tag):
    return [
        n("Div", [x, "sqrt2"], [f"{tag}/d"], name=f"{tag}/div"),
        n("Erf", [f"{tag}/d"], [f"{tag}/e"], name=f"{tag}/erf"),
        n("Add", [f"{tag}/e", "one"], [f"{tag}/a"], name=f"{tag}/add"),
        n("Mul", [x, f"{tag}/a"], [f"{tag}/m"], name=f"{tag}/mul"),
        n("Mul", [f"{tag}/m", "half"], [out], name=f"{tag}/half"),
    ]


GELU_CONSTS = [const("sqrt2", np.sqrt(2.0)), const("one", 1.0), const("half", 0.5)]


def acts():
    build("acts", [
        n("Sigmoid", ["x"], ["y0"], name="sigmoid"),
        n("HardSigmoid", ["x"], ["y1"], name="hardsigmoid", alpha=1.0 / 6, beta=0.5),
        n("HardSwish", ["x"], ["y2"], name="hardswish"),
        n("Tanh", ["x"], ["y3"], name="tanh"),
        n("Sigmoid", ["x"], ["s"], name="silu/sigmoid"),
        n("Mul", ["x", "s"], ["y4"], name="silu/mul"),
        *gelu("x", "y5", "gelu"),
    ], [4, 5, 5], [f"y{k}" for k in range(6)], GELU_CONSTS)


def excite():
    build("excite", [
        n("ReduceMean", ["x"], ["m"], name="se/squeeze", axes=[2, 3], keepdims=1),
        n("Conv", ["m", "w1", "b1"], ["c1"], name="se/fc1", kernel_shape=[1, 1]),
        n("Relu", ["c1"], ["r1"], name="se/relu"),
        n("Conv", ["r1", "w2", "b2"], ["c2"], name="se/fc2", kernel_shape=[1, 1]),
        n("HardSigmoid", ["c2"], ["g"], name="se/gate", alpha=1.0 / 6, beta=0.5),
        n("Mul", ["x", "g"], ["y0"], name="se/excite"),
        n("Add", ["g", "one"], ["g1"], name="div/den"),
        n("Div", ["x", "g1"], ["y1"], name="div/div"),
        n("ReduceMean", ["y0"], ["p"], name="head/mean", axes=[2, 3], keepdims=0),
        n("Gemm", ["p", "fc.w", "fc.b"], ["y2"], name="head/fc", transB=1),
    ], [8, 6, 6], ["y0", "y1", "y2"], [
        init("w1", (2, 8, 1, 1)), init("b1", (2,), 0.1), init("w2", (8, 2, 1, 1)),
        init("b2", (8,), 0.1), const("one", 1.0), init("fc.w", (5, 8)), init("fc.b", (5,), 0.1),
    ])


def shuffle():
    build("shuffle", [
        n("Reshape", ["x", "s5"], ["r5"], name="shuffle/split_groups"),
        n("Transpose", ["r5"], ["t5"], name="shuffle/transpose", perm=[0, 2, 1, 3, 4]),
        n("Reshape", ["t5", "s4"], ["sh"], name="shuffle/merge"),
        n("Split", ["sh", "halves"], ["a", "b"], name="branch/split", axis=1),
        n("Conv", ["b", "w", "cb"], ["bc"], name="branch/conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        n("Concat", ["a", "bc"], ["y0"], name="branch/concat", axis=1),
        n("Slice", ["y0", "st", "en", "ax"], ["sl"], name="rows/slice"),
        n("Concat", ["sl", "sl"], ["y1"], name="rows/concat_w", axis=-1),
    ], [8, 4, 4], ["y0", "y1"], [
        const("s5", [-1, 2, 4, 4, 4], np.int64), const("s4", [-1, 8, 4, 4], np.int64),
        const("halves", [4, 4], np.int64), init("w", (4, 4, 3, 3)), init("cb", (4,), 0.1),
        const("st", [1], np.int64), const("en", [3], np.int64), const("ax", [2], np.int64),
    ])


def convnext():
    build("convnext", [
        n("Conv", ["x", "dw", "dwb"], ["d"], name="block/dwconv", kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=8),
        n("Transpose", ["d"], ["t"], name="block/to_nhwc", perm=[0, 2, 3, 1]),
        n("LayerNormalization", ["t", "ln.g", "ln.b"], ["ln"], name="block/norm", axis=-1, epsilon=1e-6),
        n("MatMul", ["ln", "w1"], ["m1"], name="block/pw1/matmul"),
        n("Add", ["m1", "b1"], ["h1"], name="block/pw1/add"),
        *gelu("h1", "g", "block/gelu"),
        n("MatMul", ["g", "w2"], ["m2"], name="block/pw2/matmul"),
        n("Add", ["m2", "b2"], ["h2"], name="block/pw2/add"),
        n("Transpose", ["h2"], ["back"], name="block/to_nchw", perm=[0, 3, 1, 2]),
        n("Add", ["back", "x"], ["y0"], name="block/residual"),
    ], [8, 4, 4], ["y0"], [
        init("dw", (8, 1, 3, 3)), init("dwb", (8,), 0.1),
        numpy_helper.from_array((1 + 0.1 * rng.standard_normal(8)).astype(np.float32), "ln.g"),
        init("ln.b", (8,), 0.1), init("w1", (8, 32)), init("b1", (32,), 0.1),
        init("w2", (32, 8)), init("b2", (8,), 0.1), *GELU_CONSTS,
    ])


def attention():
    L, D, H = 6, 8, 2
    dh = D // H
    nodes = [n("LayerNormalization", ["x", "ln1.g", "ln1.b"], ["xn"], name="attn/norm", axis=-1)]
    for p in "qkv":
        nodes += [
            n("MatMul", ["xn", f"w{p}"], [f"{p}0"], name=f"attn/{p}/matmul"),
            n("Add", [f"{p}0", f"b{p}"], [f"{p}1"], name=f"attn/{p}/add"),
            n("Reshape", [f"{p}1", "heads"], [f"{p}2"], name=f"attn/{p}/reshape"),
            n("Transpose", [f"{p}2"], [f"{p}3"], name=f"attn/{p}/transpose",
              perm=[0, 2, 3, 1] if p == "k" else [0, 2, 1, 3]),
        ]
    nodes += [
        n("MatMul", ["q3", "k3"], ["s0"], name="attn/qk"),
        n("Mul", ["s0", "scale"], ["s1"], name="attn/scale"),
        n("Softmax", ["s1"], ["a"], name="attn/softmax", axis=-1),
        n("MatMul", ["a", "v3"], ["o0"], name="attn/av"),
        n("Transpose", ["o0"], ["o1"], name="attn/merge/transpose", perm=[0, 2, 1, 3]),
        n("Reshape", ["o1", "tokens"], ["o2"], name="attn/merge/reshape"),
        n("MatMul", ["o2", "wo"], ["o3"], name="attn/out/matmul"),
        n("Add", ["o3", "bo"], ["o4"], name="attn/out/add"),
        n("Add", ["x", "o4"], ["r1"], name="attn/residual"),
        n("LayerNormalization", ["r1", "ln2.g", "ln2.b"], ["rn"], name="mlp/norm", axis=-1),
        n("MatMul", ["rn", "wm1"], ["h0"], name="mlp/fc1/matmul"),
        n("Add", ["h0", "bm1"], ["h1"], name="mlp/fc1/add"),
        *gelu("h1", "h2", "mlp/gelu"),
        n("MatMul", ["h2", "wm2"], ["h3"], name="mlp/fc2/matmul"),
        n("Add", ["h3", "bm2"], ["h4"], name="mlp/fc2/add"),
        n("Add", ["r1", "h4"], ["y0"], name="mlp/residual"),
        n("Gather", ["y0", "first"], ["cls"], name="head/cls", axis=1),
        n("MatMul", ["cls", "wh"], ["y1"], name="head/fc"),
    ]
    ln = lambda p: [numpy_helper.from_array((1 + 0.1 * rng.standard_normal(D)).astype(np.float32), f"{p}.g"),
                    init(f"{p}.b", (D,), 0.1)]
    inits = [*ln("ln1"), *ln("ln2"), const("heads", [1, L, H, dh], np.int64),
             const("tokens", [1, L, D], np.int64), const("scale", 1.0 / np.sqrt(dh)),
             const("first", 0, np.int64), init("wo", (D, D)), init("bo", (D,), 0.1),
             init("wm1", (D, 4 * D)), init("bm1", (4 * D,), 0.1), init("wm2", (4 * D, D)),
             init("bm2", (D,), 0.1), init("wh", (D, 3)), *GELU_CONSTS]
    for p in "qkv":
        inits += [init(f"w{p}", (D, D)), init(f"b{p}", (D,), 0.1)]
    build("attention", nodes, [L, D], ["y0", "y1"], inits, batch=1)


def fold_const():
    build("fold_const", [
        n("Shape", ["x"], ["s"], name="shape/of_x"),
        n("Gather", ["s", "i1"], ["c"], name="shape/channels", axis=0),
        n("Div", ["c", "two"], ["half"], name="shape/half"),
        n("Unsqueeze", ["half", "ax0"], ["hu"], name="shape/unsqueeze"),
        n("Concat", ["one", "two1", "hu", "sixteen"], ["target"], name="shape/concat", axis=0),
        n("Reshape", ["x", "target"], ["g"], name="shuffle/groups"),
        n("Transpose", ["g"], ["gt"], name="shuffle/transpose", perm=[0, 2, 1, 3]),
        n("Reshape", ["gt", "back"], ["sh"], name="shuffle/back"),
        n("Mul", ["sh", "gamma"], ["y0"], name="layer_scale"),
        n("Reshape", ["x", "tok_shape"], ["t0"], name="tokens/flatten"),
        n("Transpose", ["t0"], ["t1"], name="tokens/transpose", perm=[0, 2, 1]),
        n("Concat", ["cls", "t1"], ["t2"], name="tokens/class_token", axis=1),
        n("Add", ["t2", "pos"], ["y1"], name="tokens/position"),
    ], [8, 4, 4], ["y0", "y1"], [
        const("i1", 1, np.int64), const("two", 2, np.int64), const("ax0", [0], np.int64),
        const("one", [1], np.int64), const("two1", [2], np.int64),
        const("sixteen", [16], np.int64), const("back", [1, 8, 4, 4], np.int64),
        init("gamma", (8, 1, 1)), const("tok_shape", [1, 8, 16], np.int64),
        init("cls", (1, 1, 8)), init("pos", (1, 17, 8)),
    ], batch=1)


def mha():
    L, E, H = 6, 8, 2
    dh = E // H
    c = lambda name, v: const(name, v, np.int64)
    nodes = [
        n("Transpose", ["x"], ["t"], name="mha/to_lne", perm=[1, 0, 2]),
        n("MatMul", ["t", "w_in"], ["p0"], name="mha/in_proj"),
        n("Add", ["b_in", "p0"], ["p1"], name="mha/in_bias"),
        n("Reshape", ["p1", "s_l1_3_e"], ["p2"], name="mha/split_qkv"),
        n("Unsqueeze", ["p2", "ax0"], ["p3"], name="mha/unsqueeze"),
        n("Transpose", ["p3"], ["p4"], name="mha/qkv_first", perm=[3, 1, 2, 0, 4]),
        n("Squeeze", ["p4", "axm2"], ["p5"], name="mha/squeeze"),
    ]
    for k, p in enumerate("qkv"):
        nodes += [
            n("Gather", ["p5", f"i{k}"], [f"{p}0"], name=f"mha/{p}/gather", axis=0),
            n("Reshape", [f"{p}0", "s_l_h_d"], [f"{p}1"], name=f"mha/{p}/heads"),
            n("Transpose", [f"{p}1"], [f"{p}2"], name=f"mha/{p}/transpose", perm=[1, 0, 2]),
            n("Reshape", [f"{p}2", "s_1_h_l_d"], [f"{p}3"], name=f"mha/{p}/batch"),
        ]
    nodes += [
        n("Mul", ["q3", "scale"], ["q4"], name="mha/q/scale"),
        n("Transpose", ["k3"], ["k4"], name="mha/k/t", perm=[0, 1, 3, 2]),
        n("MatMul", ["q4", "k4"], ["s"], name="mha/qk"),
        n("Softmax", ["s"], ["a"], name="mha/softmax", axis=-1),
        n("MatMul", ["a", "v3"], ["o0"], name="mha/av"),
        n("Transpose", ["o0"], ["o1"], name="mha/merge", perm=[2, 0, 1, 3]),
        n("Reshape", ["o1", "s_l_e"], ["o2"], name="mha/rows"),
        n("Gemm", ["o2", "w_out", "b_out"], ["o3"], name="mha/out_proj", transB=1),
        n("Reshape", ["o3", "s_l_1_e"], ["o4"], name="mha/lne"),
        n("Transpose", ["o4"], ["y0"], name="mha/to_nle", perm=[1, 0, 2]),
    ]
    build("mha", nodes, [L, E], ["y0"], [
        init("w_in", (E, 3 * E)), init("b_in", (3 * E,), 0.1), c("s_l1_3_e", [L, 1, 3, E]),
        c("ax0", [0]), c("axm2", [-2]), c("i0", 0), c("i1", 1), c("i2", 2),
        c("s_l_h_d", [L, H, dh]), c("s_1_h_l_d", [1, H, L, dh]),
        const("scale", 1.0 / np.sqrt(dh)), c("s_l_e", [L, E]), init("w_out", (E, E)),
        init("b_out", (E,), 0.1), c("s_l_1_e", [L, 1, E]),
    ], batch=1)


def save_refused(g, name):
    """A graph the importer refuses: checked by onnx, saved without reference outputs."""
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, f"{name}.onnx"))


def unsupported():
    g = helper.make_graph(
        [n("Conv", ["x", "w"], ["c"], name="body/conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
         n("Cos", ["c"], ["y"], name="head/cos")],
        "unsupported_cos",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 6, 6])],
        [init("w", (3, 2, 3, 3))],
    )
    save_refused(g, "unsupported_cos")


def pad():
    build("pad", [
        n("Pad", ["x", "p4", "half"], ["y0"], name="pad/chw"),
        n("Reshape", ["x", "s_tok"], ["t"], name="pad/tokens"),
        n("Pad", ["t", "p3"], ["y1"], name="pad/rows"),
    ], [3, 4, 5], ["y0", "y1"], [
        const("p4", [0, 1, 0, 2, 0, 0, 0, 1], np.int64), const("half", 0.5),
        const("s_tok", [1, 12, 5], np.int64), const("p3", [0, 2, 0, 0, 1, 0], np.int64),
    ], batch=1)


def pad_reflect():
    g = helper.make_graph(
        [n("Pad", ["x", "p"], ["y"], name="body/pad", mode="reflect")],
        "pad_reflect",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 8, 8])],
        [const("p", [0, 0, 1, 1, 0, 0, 1, 1], np.int64)],
    )
    save_refused(g, "pad_reflect")


def einsum():
    build("einsum", [
        n("Einsum", ["x", "x"], ["y0"], name="e/xxt", equation="bik,bjk->bij"),
        n("Einsum", ["x", "x"], ["y1"], name="e/xtx", equation="bki,bkj->bij"),
        n("Reshape", ["x", "s_heads"], ["h"], name="e/heads"),
        n("Einsum", ["h", "h"], ["y2"], name="e/heads_prod", equation="bhik,bhkj->bhij"),
    ], [4, 4], ["y0", "y1", "y2"], [const("s_heads", [1, 4, 2, 2], np.int64)], batch=1)


def einsum_outer():
    g = helper.make_graph(
        [n("Flatten", ["x"], ["f"], name="body/flat"),
         n("Einsum", ["f", "f"], ["y"], name="head/outer", equation="bi,bj->bij")],
        "einsum_outer",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6, 6])],
        [],
    )
    save_refused(g, "einsum_outer")


def external():
    g = helper.make_graph(
        [n("Conv", ["x", "w"], ["c"], name="body/conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
         n("Flatten", ["c"], ["f"], name="body/flat"),
         n("Gemm", ["f", "fc_w", "fc_b"], ["y0"], name="head/fc", transB=1)],
        "external",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
        [helper.make_tensor_value_info("y0", TensorProto.FLOAT, [1, 5])],
        [init("w", (3, 2, 3, 3)), init("fc_w", (5, 48)), init("fc_b", (5,), 0.1)],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    path = os.path.join(OUT, "external.onnx")
    # onnx appends to an existing data file: start afresh so that reruns write the same bytes.
    if os.path.exists(os.path.join(OUT, "external.bin")):
        os.remove(os.path.join(OUT, "external.bin"))
    onnx.save(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
              location="external.bin", size_threshold=0)
    x = rng.standard_normal((1, 2, 4, 4)).astype(np.float32)
    y = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.save(os.path.join(OUT, "external_x.npy"), x)
    np.save(os.path.join(OUT, "external_y0.npy"), y)
    m = onnx.load(path, load_external_data=False)
    for t in m.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = "../external.bin"
    onnx.save(m, os.path.join(OUT, "external_escape.onnx"))


def norms():
    build("norms", [
        n("Conv", ["x", "w1"], ["z"], name="mix", kernel_shape=[1, 1]),
        n("Exp", ["z"], ["y0"], name="exp"),
        n("Relu", ["z"], ["r"], name="sqrt/relu"),
        n("Sqrt", ["r"], ["y1"], name="sqrt"),
        n("Clip", ["z", "lo", "hi"], ["y2"], name="clip"),
        n("ReduceL2", ["z"], ["y3"], name="l2/channels", axes=[1], keepdims=1),
        n("ReduceL2", ["z"], ["y4"], name="l2/w", axes=[-1], keepdims=0),
        n("ReduceMean", ["z"], ["g"], name="gate/mean", axes=[2, 3], keepdims=1),
        n("Expand", ["g", "s_full"], ["y5"], name="gate/expand"),
        n("ReduceL2", ["z"], ["nrm"], name="normalize/l2", axes=[-1], keepdims=1),
        n("Clip", ["nrm", "eps"], ["nc"], name="normalize/clip"),
        n("Expand", ["nc", "s_full"], ["ne"], name="normalize/expand"),
        n("Div", ["z", "ne"], ["y6"], name="normalize/div"),
    ], [3, 4, 5], [f"y{k}" for k in range(7)], [
        const("lo", -0.5), const("hi", 0.7), const("eps", 1e-12),
        const("s_full", [1, 3, 4, 5], np.int64), init("w1", (3, 3, 1, 1), 0.6),
    ], batch=1)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for f in (pool_pad, acts, excite, shuffle, convnext, attention, unsupported, fold_const, mha,
              pad, pad_reflect, einsum, einsum_outer, external, norms):
        f()
    print("wrote", sorted(os.listdir(OUT)))
