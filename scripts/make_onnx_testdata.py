#!/usr/bin/env python3
"""Small ONNX graphs for the importer's tests (tests/onnx_import.rs), with inputs and
onnxruntime's reference outputs.

Writes tests/data/onnx/:
  cnn.onnx          Conv (stride, padding, dilation, groups), BatchNormalization, Relu, Clip
                    (ReLU6), MaxPool, AveragePool, Add, Resize (nearest), Concat,
                    GlobalAveragePool, Flatten, Gemm; two outputs (`feat`, `logits`), batch
                    dimension symbolic
  mlp.onnx          Reshape to [N, F], MatMul + Add (a linear layer with bias), Identity,
                    Gemm with transB = 0, alpha and beta
  cnn_x.npy         float32 [4, 3, 16, 16] inputs;  cnn_feat.npy, cnn_logits.npy its outputs
  mlp_x.npy         float32 [3, 2, 4, 4] inputs;    mlp_y.npy its output
  dynamic.onnx      a Conv whose weight is a graph input, not an initializer

Needs onnx, onnxruntime and numpy, in a virtualenv of their own (not the project's .venv):
  python3 -m venv /tmp/onnxvenv && /tmp/onnxvenv/bin/pip install onnx onnxruntime numpy
  /tmp/onnxvenv/bin/python scripts/make_onnx_testdata.py
Seeded: the files come out the same every run.
"""
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "onnx")
OPSET = 13
rng = np.random.default_rng(15)


def init(name, shape, scale=0.3):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def const(name, values, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def bn(prefix, c):
    return [
        numpy_helper.from_array((1.0 + 0.2 * rng.standard_normal(c)).astype(np.float32), f"{prefix}.scale"),
        init(f"{prefix}.bias", (c,), 0.1),
        init(f"{prefix}.mean", (c,), 0.1),
        numpy_helper.from_array((0.5 + rng.random(c)).astype(np.float32), f"{prefix}.var"),
    ]


def save(model, name):
    onnx.checker.check_model(model)
    path = os.path.join(OUT, name)
    onnx.save(model, path)
    return path


def run(path, x):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})


def cnn():
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "c1.w", "c1.b"], ["c1"], name="stem/conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        n("BatchNormalization", ["c1", "bn1.scale", "bn1.bias", "bn1.mean", "bn1.var"], ["b1"],
          name="stem/bn", epsilon=1e-3),
        n("Relu", ["b1"], ["r1"], name="stem/relu"),
        n("MaxPool", ["r1"], ["p1"], name="stem/pool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        # Grouped, dilated conv; its bias-free output goes through a batch norm then ReLU6.
        n("Conv", ["p1", "c2.w"], ["c2"], name="block/conv", kernel_shape=[3, 3], pads=[2, 2, 2, 2],
          dilations=[2, 2], group=2),
        n("BatchNormalization", ["c2", "bn2.scale", "bn2.bias", "bn2.mean", "bn2.var"], ["b2"], name="block/bn"),
        n("Clip", ["b2", "zero", "six"], ["r2"], name="block/relu6"),
        n("Add", ["r2", "p1"], ["a1"], name="block/add"),
        n("AveragePool", ["a1"], ["p2"], name="down/avg", kernel_shape=[2, 2], strides=[2, 2]),
        n("Conv", ["p2", "c3.w", "c3.b"], ["c3"], name="down/conv", kernel_shape=[1, 1]),
        n("Resize", ["c3", "", "scales"], ["u1"], name="up/resize", mode="nearest",
          coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
        n("Concat", ["u1", "a1"], ["feat"], name="up/concat", axis=1),
        # A non-square kernel.
        n("Conv", ["feat", "c4.w", "c4.b"], ["c4"], name="head/conv", kernel_shape=[2, 3], strides=[2, 2]),
        n("Relu", ["c4"], ["r4"], name="head/relu"),
        n("GlobalAveragePool", ["r4"], ["g"], name="head/gap"),
        n("Flatten", ["g"], ["f"], name="head/flatten", axis=1),
        n("Gemm", ["f", "fc.w", "fc.b"], ["logits"], name="head/fc", transB=1),
    ]
    inits = [
        init("c1.w", (8, 3, 3, 3)), init("c1.b", (8,), 0.1), *bn("bn1", 8),
        init("c2.w", (8, 4, 3, 3)), *bn("bn2", 8),
        const("zero", 0.0), const("six", 6.0),
        init("c3.w", (6, 8, 1, 1)), init("c3.b", (6,), 0.1),
        const("scales", [1.0, 1.0, 2.0, 2.0]),
        init("c4.w", (12, 14, 2, 3), 0.2), init("c4.b", (12,), 0.1),
        init("fc.w", (5, 12)), init("fc.b", (5,), 0.1),
    ]
    graph = helper.make_graph(
        nodes, "cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 16, 16])],
        [helper.make_tensor_value_info("feat", TensorProto.FLOAT, ["N", 14, 8, 8]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 5])],
        inits,
    )
    path = save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]), "cnn.onnx")
    x = rng.random((4, 3, 16, 16), dtype=np.float32)
    feat, logits = run(path, x)
    np.save(os.path.join(OUT, "cnn_x.npy"), x)
    np.save(os.path.join(OUT, "cnn_feat.npy"), feat)
    np.save(os.path.join(OUT, "cnn_logits.npy"), logits)


def mlp():
    n = helper.make_node
    nodes = [
        n("Reshape", ["x", "shape"], ["flat"], name="flatten"),
        n("MatMul", ["flat", "w1"], ["m1"], name="fc1/matmul"),
        n("Add", ["m1", "b1"], ["h1"], name="fc1/add"),
        n("Relu", ["h1"], ["r1"], name="fc1/relu"),
        n("Identity", ["r1"], ["i1"], name="keep"),
        n("Gemm", ["i1", "w2", "b2"], ["y"], name="fc2", transB=0, alpha=0.5, beta=2.0),
    ]
    inits = [
        const("shape", [-1, 32], np.int64),
        init("w1", (32, 16)), init("b1", (16,), 0.1),
        init("w2", (16, 4)), init("b2", (4,), 0.1),
    ]
    graph = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        inits,
    )
    path = save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]), "mlp.onnx")
    x = rng.standard_normal((3, 2, 4, 4)).astype(np.float32)
    (y,) = run(path, x)
    np.save(os.path.join(OUT, "mlp_x.npy"), x)
    np.save(os.path.join(OUT, "mlp_y.npy"), y)


def bad():
    n = helper.make_node
    # The unsupported-op graph is made by make_onnx_ops_testdata.py (unsupported_cos.onnx).
    g = helper.make_graph(
        [n("Conv", ["x", "w"], ["y"], name="body/conv", kernel_shape=[3, 3])],
        "dynamic",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 6, 6]),
         helper.make_tensor_value_info("w", TensorProto.FLOAT, ["O", 2, 3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, "O", 4, 4])],
    )
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)]), "dynamic.onnx")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    cnn()
    mlp()
    bad()
    print("wrote", sorted(os.listdir(OUT)))
