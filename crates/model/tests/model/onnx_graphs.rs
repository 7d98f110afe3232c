//! Malformed and edge-case ONNX graphs built here, node by node, without an exporter: each is
//! refused with one error naming the node and what is wrong, or imported with ONNX's meaning.

use nestevo_model::onnx::import_onnx_bytes;
use nestevo_model::Op;
use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::{
    AttributeProto, GraphProto, Message, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, ValueInfoProto,
};

/// A graph under construction: one float input `x` of the given dims (batch first).
struct G {
    g: GraphProto,
    opset: i64,
}

fn attr_int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        type_: AttributeType::INT.into(),
        i,
        ..Default::default()
    }
}

fn attr_float(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        type_: AttributeType::FLOAT.into(),
        f,
        ..Default::default()
    }
}

fn attr_ints(name: &str, ints: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        type_: AttributeType::INTS.into(),
        ints: ints.to_vec(),
        ..Default::default()
    }
}

fn attr_string(name: &str, s: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        type_: AttributeType::STRING.into(),
        s: s.as_bytes().to_vec(),
        ..Default::default()
    }
}

impl G {
    fn new(x: &[i64], opset: i64) -> G {
        let mut shape = TensorShapeProto::new();
        for &d in x {
            let mut dim = onnx_protobuf::tensor_shape_proto::Dimension::new();
            dim.set_dim_value(d);
            shape.dim.push(dim);
        }
        let mut input = ValueInfoProto {
            name: "x".into(),
            ..Default::default()
        };
        let t = input.type_.mut_or_insert_default().mut_tensor_type();
        t.elem_type = 1;
        t.shape = Some(shape).into();
        G {
            g: GraphProto {
                name: "g".into(),
                input: vec![input],
                ..Default::default()
            },
            opset,
        }
    }

    fn ints(mut self, name: &str, dims: &[i64], v: &[i64]) -> G {
        self.g.initializer.push(TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: 7,
            int64_data: v.to_vec(),
            ..Default::default()
        });
        self
    }

    fn floats(mut self, name: &str, dims: &[i64], v: &[f32]) -> G {
        self.g.initializer.push(TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: 1,
            float_data: v.to_vec(),
            ..Default::default()
        });
        self
    }

    fn node(mut self, op: &str, ins: &[&str], out: &str, attrs: Vec<AttributeProto>) -> G {
        self.g.node.push(NodeProto {
            name: format!("n_{out}"),
            op_type: op.into(),
            input: ins.iter().map(|s| s.to_string()).collect(),
            output: vec![out.into()],
            attribute: attrs,
            ..Default::default()
        });
        self
    }

    fn bytes(mut self, out: &str) -> Vec<u8> {
        self.g.output.push(ValueInfoProto {
            name: out.into(),
            ..Default::default()
        });
        let m = ModelProto {
            ir_version: 8,
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: self.opset,
                ..Default::default()
            }],
            graph: Some(self.g).into(),
            ..Default::default()
        };
        m.write_to_bytes().unwrap()
    }
}

fn import(bytes: &[u8]) -> Result<nestevo_model::onnx::Imported, String> {
    import_onnx_bytes(bytes, "t.onnx", "t").map_err(|e| e.to_string())
}

fn refused(bytes: &[u8], needles: &[&str]) {
    let m = import(bytes).expect_err("refused");
    for n in needles {
        assert!(m.contains(n), "`{n}` missing from: {m}");
    }
}

/// ONNX broadcasts a product's leading axes axis by axis: [2, 1] against [1, 2] makes four
/// products, which one merged batch cannot; refused rather than computed as two.
#[test]
fn a_product_whose_leading_axes_cross_is_refused() {
    let b = G::new(&[1, 2, 3, 4], 17)
        .ints("sa", &[4], &[2, 1, 3, 4])
        .ints("sb", &[4], &[1, 2, 4, 3])
        .node("Reshape", &["x", "sa"], "a", vec![])
        .node("Relu", &["x"], "r", vec![])
        .node("Reshape", &["r", "sb"], "b", vec![])
        .node("MatMul", &["a", "b"], "y", vec![])
        .bytes("y");
    refused(
        &b,
        &["n_y", "product of shapes [2, 1, 3, 4] and [1, 2, 4, 3]"],
    );
}

/// A letter twice in Einsum's output takes a diagonal: refused, naming the equation.
#[test]
fn an_einsum_diagonal_is_refused() {
    let b = G::new(&[1, 3, 4], 17)
        .node(
            "Transpose",
            &["x"],
            "t",
            vec![attr_ints("perm", &[0, 2, 1])],
        )
        .node(
            "Einsum",
            &["x", "t"],
            "y",
            vec![attr_string("equation", "bik,bki->bii")],
        )
        .bytes("y");
    refused(&b, &["n_y", "equation `bik,bki->bii`", "a letter repeats"]);
}

/// The reshape target of [1, 6] values read through a folded node, so that its value shows in
/// the imported layer's shape.
fn reshaped_by(g: G, shape: &str) -> Result<Vec<[usize; 3]>, String> {
    let b = g
        .node("Reshape", &["x", shape], "r", vec![])
        .node("Relu", &["r"], "y", vec![])
        .bytes("y");
    let imp = import(&b)?;
    imp.desc.shapes().map_err(|e| e.to_string())
}

/// Clip before opset 11 has its bounds as attributes; folded on a constant they apply.
#[test]
fn a_folded_clip_reads_opset_6_attributes() {
    let g = G::new(&[1, 6], 6).ints("c", &[2], &[-3, 8]).node(
        "Clip",
        &["c"],
        "s",
        vec![attr_float("min", 1.0), attr_float("max", 6.0)],
    );
    let shapes = reshaped_by(g, "s").unwrap();
    assert_eq!(shapes.last().unwrap(), &[6, 1, 1]);
}

/// Max of three constants folds over all three (ONNX's Max takes one or more).
#[test]
fn a_folded_max_takes_every_input() {
    let g = G::new(&[1, 6], 17)
        .ints("a", &[2], &[1, 2])
        .ints("b", &[2], &[1, 6])
        .ints("c", &[2], &[-1, 3])
        .node("Max", &["a", "b", "c"], "s", vec![]);
    let shapes = reshaped_by(g, "s").unwrap();
    assert_eq!(shapes.last().unwrap(), &[6, 1, 1]);
}

/// Slice's inputs are read by position: axes left out ("") while steps are given.
#[test]
fn a_folded_slice_reads_its_inputs_by_position() {
    let g = G::new(&[1, 6], 17)
        .ints("c", &[5], &[1, 9, 2, 9, 3])
        .ints("st", &[1], &[0])
        .ints("en", &[1], &[5])
        .ints("sp", &[1], &[2])
        .node("Slice", &["c", "st", "en", "", "sp"], "s", vec![]);
    // [1, 9, 2, 9, 3][0:5:2] = [1, 2, 3]: the values [1, 6] reshaped to [1, 2, 3].
    let shapes = reshaped_by(g, "s").unwrap();
    assert_eq!(shapes.last().unwrap(), &[1, 2, 3]);
}

/// A folded node with too few inputs is refused naming the op, the arity and the node,
/// instead of failing on a missing operand.
#[test]
fn a_folded_node_with_missing_inputs_is_refused() {
    let one = G::new(&[1, 6], 17)
        .floats("a", &[2, 2], &[1.0, 2.0, 3.0, 4.0])
        .node("MatMul", &["a"], "s", vec![])
        .node("Relu", &["x"], "y", vec![])
        .bytes("y");
    refused(&one, &["n_s", "MatMul takes 2 inputs", "the node has 1"]);
    let two = G::new(&[1, 6], 17)
        .ints("d", &[2], &[0, 0])
        .ints("i", &[1, 1], &[0])
        .node("ScatterND", &["d", "i"], "s", vec![])
        .node("Relu", &["x"], "y", vec![])
        .bytes("y");
    refused(&two, &["n_s", "ScatterND takes 3 inputs"]);
    let perm = G::new(&[1, 6], 17)
        .floats("a", &[2, 2], &[1.0, 2.0, 3.0, 4.0])
        .node("Transpose", &["a"], "s", vec![attr_ints("perm", &[0, 2])])
        .node("Relu", &["x"], "y", vec![])
        .bytes("y");
    refused(&perm, &["n_s", "perm [0, 2]"]);
}

/// Sizes read from the file are checked before anything is allocated: a pad amount or an
/// expanded shape past 2^31 values is refused naming the value.
#[test]
fn huge_pads_and_expansions_are_refused() {
    let pad = G::new(&[1, 2, 3, 4], 17)
        .ints("p", &[8], &[0, 0, 0, 0, 0, 0, 0, 1 << 40])
        .node("Pad", &["x", "p"], "y", vec![])
        .bytes("y");
    refused(&pad, &["n_y", "1099511627776", "more than 2^31 values"]);
    let expand = G::new(&[1, 1, 1], 17)
        .ints("s", &[4], &[1, 4, 1, 1 << 33])
        .node("Expand", &["x", "s"], "y", vec![])
        .bytes("y");
    refused(&expand, &["n_y", "8589934592", "more than 2^31 values"]);
}

/// ReduceL2 over an axis named twice would count its values twice: refused. ReduceMean with no
/// axes and noop_with_empty_axes = 1 (opset 18) leaves the tensor as it is.
#[test]
fn reduction_axes_repeated_or_empty() {
    let l2 = G::new(&[1, 2, 3, 4], 17)
        .node("ReduceL2", &["x"], "y", vec![attr_ints("axes", &[1, -3])])
        .bytes("y");
    refused(&l2, &["n_y", "axes [1, -3]", "an axis repeats"]);
    let noop = G::new(&[1, 2, 3, 4], 18)
        .node(
            "ReduceMean",
            &["x"],
            "m",
            vec![attr_int("noop_with_empty_axes", 1)],
        )
        .node("Relu", &["m"], "y", vec![])
        .bytes("y");
    let imp = import(&noop).unwrap();
    assert_eq!(imp.desc.layers.len(), 1, "{:?}", imp.desc.layers);
    assert_eq!(imp.desc.layers[0].op, Op::Relu);
    assert_eq!(imp.desc.shapes().unwrap(), vec![[2, 3, 4]]);
}

/// Before opset 13 Softmax normalises over every axis from `axis` (default 1) on: refused
/// there unless that is the last axis alone, which means the same in every opset.
#[test]
fn softmax_before_opset_13() {
    let flat = G::new(&[1, 2, 3], 11)
        .node("Softmax", &["x"], "y", vec![])
        .bytes("y");
    refused(&flat, &["n_y", "opset 11: axis 1", "only the last axis"]);
    let last = G::new(&[1, 2, 3], 11)
        .node("Softmax", &["x"], "y", vec![attr_int("axis", -1)])
        .bytes("y");
    let imp = import(&last).unwrap();
    assert!(
        matches!(imp.desc.layers[0].op, Op::Softmax { .. }),
        "{:?}",
        imp.desc.layers
    );
}

/// A weight read by one node is taken, not copied; one read by two nodes (two convolutions
/// sharing their kernel, a Gemm and a MatMul sharing a matrix) is given to both, each the same
/// values; a bad initializer after good ones is the one named.
#[test]
fn shared_and_single_weights_reach_every_layer() {
    let w: Vec<f32> = (0..2 * 2 * 3 * 3).map(|i| i as f32 * 0.25 - 4.0).collect();
    let m: Vec<f32> = (0..8 * 3).map(|i| 1.0 - i as f32 * 0.125).collect();
    let b = G::new(&[1, 2, 4, 4], 17)
        .floats("w", &[2, 2, 3, 3], &w)
        .floats("w1", &[2, 2, 3, 3], &w)
        .floats("m", &[8, 3], &m)
        .ints("flat", &[2], &[1, 8])
        .node(
            "Conv",
            &["x", "w"],
            "a",
            vec![attr_ints("pads", &[1, 1, 1, 1])],
        )
        .node(
            "Conv",
            &["a", "w"],
            "b",
            vec![attr_ints("pads", &[1, 1, 1, 1])],
        )
        .node("Conv", &["b", "w1"], "c", vec![])
        .node("Reshape", &["c", "flat"], "r", vec![])
        .node("Gemm", &["r", "m"], "g", vec![])
        .node("MatMul", &["r", "m"], "h", vec![])
        .node("Add", &["g", "h"], "y", vec![])
        .bytes("y");
    let imp = import(&b).expect("imports");
    let convs: Vec<_> = imp
        .desc
        .layers
        .iter()
        .filter(|l| matches!(l.op, Op::Conv { .. }))
        .map(|l| l.name.clone())
        .collect();
    assert_eq!(convs.len(), 3);
    for name in &convs {
        let t = &imp.weights[&format!("{name}.weight")];
        assert_eq!(t.shape(), &[2, 2, 3, 3]);
        assert_eq!(t.as_slice().unwrap(), &w[..], "{name}");
    }
    let mats: Vec<_> = imp
        .weights
        .iter()
        .filter(|(k, v)| k.ends_with(".weight") && v.shape() == [3, 8])
        .collect();
    assert_eq!(
        mats.len(),
        2,
        "{:?}",
        imp.weights.keys().collect::<Vec<_>>()
    );
    for (k, v) in mats {
        for o in 0..3 {
            for i in 0..8 {
                assert_eq!(v[[o, i]], m[i * 3 + o], "{k} [{o}, {i}]");
            }
        }
    }
    // A first initializer that is fine and a second whose data does not fit its shape.
    let bad = G::new(&[1, 2, 4, 4], 17)
        .floats("ok", &[2, 2, 3, 3], &w)
        .floats("short", &[2, 2, 3, 3], &w[..30])
        .node("Conv", &["x", "ok"], "a", vec![])
        .node("Conv", &["a", "short"], "y", vec![])
        .bytes("y");
    let e = import(&bad).expect_err("refused");
    assert!(e.contains("initializer") && e.contains("short"), "{e}");
}
