//! ONNX import: the small graphs of tests/data/onnx (made by scripts/make_onnx_testdata.py)
//! import to descriptions whose float reference matches onnxruntime's outputs, whose
//! bit-faithful outputs match the float ones to the quantisation error, and bad files are
//! refused naming the node (or the file, when it is cut short).

use ndarray::{Array4, ArrayD};
use ndarray_npy::read_npy;
use nestevo_arch::preset;
use nestevo_cim::{CimNetwork, NoiseSpec};
use nestevo_couple::generic::{as_frames, output_layout};
use nestevo_model::onnx::{import_onnx, import_onnx_bytes, Imported, OnnxError};
use nestevo_model::Op;
use nestevo_model::Tensors;
use std::path::{Path, PathBuf};

fn data(f: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("tests/data/onnx")
        .join(f)
}

fn npy(f: &str) -> ArrayD<f32> {
    read_npy(data(f)).unwrap()
}

fn network(imp: &Imported) -> CimNetwork {
    let t = Tensors {
        source: "onnx".into(),
        map: imp.weights.clone().into_iter().collect(),
    };
    CimNetwork::new(
        &imp.desc,
        &t,
        &preset("isaac").unwrap(),
        &NoiseSpec::default(),
    )
    .unwrap()
}

/// max |a - b| / max |b|.
fn rel(a: &ArrayD<f32>, b: &ArrayD<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    let d = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    d / b.iter().fold(0f32, |m, v| m.max(v.abs()))
}

/// Float reference vs onnxruntime to 1e-4 relative, crossbars vs float to the quantisation
/// error of 16-bit weights and inputs, for every output of `model`.
fn check(model: &str, x: &str, refs: &[&str]) {
    let imp = import_onnx(&data(model)).unwrap();
    let x: Array4<f32> = as_frames(npy(x), imp.desc.input, "x").unwrap();
    let mut net = network(&imp);
    let float = net.forward_float(x.view()).unwrap();
    net.calibrate(x.view()).unwrap();
    let (cim, _) = net.forward_cim(x.view()).unwrap();
    assert_eq!(float.len(), refs.len());
    for (k, r) in refs.iter().enumerate() {
        let name = &imp.desc.outputs[k];
        let f = output_layout(&imp.desc, name, &float[k]);
        let c = output_layout(&imp.desc, name, &cim[k]);
        let reference = npy(r);
        let e = rel(&f, &reference);
        assert!(
            e <= 1e-4,
            "{model} output {name}: float vs onnxruntime {e:e} relative"
        );
        // 16-bit symmetric quantisation: each layer's error is ~2^-15 of its range; a few layers
        // stay well under 2^-10, and far from zero difference the run would not be bit-faithful.
        let q = rel(&c, &f);
        assert!(
            q <= 2f32.powi(-10),
            "{model} output {name}: crossbars vs float {q:e} relative"
        );
        assert!(
            q > 0.0,
            "{model} output {name}: no quantisation error at all"
        );
    }
}

/// Conv (stride, padding, dilation, groups, non-square kernel), BN, ReLU, ReLU6, pools, Add,
/// Resize, Concat, GAP, Flatten, Gemm: two outputs against onnxruntime.
#[test]
fn cnn_matches_onnxruntime() {
    check("cnn.onnx", "cnn_x.npy", &["cnn_feat.npy", "cnn_logits.npy"]);
}

/// Reshape to [N, F], MatMul + Add folded into one linear layer, Identity, Gemm (transB = 0,
/// alpha, beta) against onnxruntime.
#[test]
fn mlp_matches_onnxruntime() {
    check("mlp.onnx", "mlp_x.npy", &["mlp_y.npy"]);
}

/// The graph becomes the layers it should: BN kept for folding, Clip as relu6, MatMul + Add
/// as one linear layer with a bias, and the epsilon absorbed into the variance.
#[test]
fn import_maps_ops_one_to_one() {
    let imp = import_onnx(&data("cnn.onnx")).unwrap();
    let kinds: Vec<&str> = imp.desc.layers.iter().map(|l| l.op.kind()).collect();
    assert_eq!(
        kinds,
        [
            "conv", "bn", "relu", "maxpool", "conv", "bn", "relu6", "add", "avgpool", "conv",
            "upsample", "concat", "conv", "relu", "gap", "flatten", "linear"
        ]
    );
    assert!(matches!(
        imp.desc.layers[4].op,
        Op::Conv {
            dilation: 2,
            groups: 2,
            padding: 2,
            bias: false,
            ..
        }
    ));
    assert_eq!(imp.desc.outputs, ["up_concat", "head_fc"]);
    // BN epsilon 1e-3 in the file: var' = var + 1e-3 - 1e-5.
    let v = &imp.weights["stem_bn.running_var"];
    assert!(v.iter().all(|&x| x > 0.5 + 1e-3 - 1e-5 - 1e-7));
    let mlp = import_onnx(&data("mlp.onnx")).unwrap();
    let ops: Vec<&Op> = mlp.desc.layers.iter().map(|l| &l.op).collect();
    assert_eq!(
        ops,
        [
            &Op::Flatten,
            &Op::Linear {
                out_features: 16,
                bias: true
            },
            &Op::Relu,
            &Op::Linear {
                out_features: 4,
                bias: true
            }
        ]
    );
}

fn message(e: OnnxError) -> String {
    e.to_string()
}

/// An unsupported op is refused with the node's name, its op type and the supported list.
#[test]
fn unsupported_op_names_node_op_and_list() {
    let m = message(import_onnx(&data("unsupported_cos.onnx")).unwrap_err());
    assert!(m.contains("head/cos"), "{m}");
    assert!(m.contains("`Cos`"), "{m}");
    assert!(m.contains("supported: Conv, Gemm"), "{m}");
}

/// A weight that is not a constant (dynamic shape and values) is refused naming the node.
#[test]
fn dynamic_weight_names_the_node() {
    let m = message(import_onnx(&data("dynamic.onnx")).unwrap_err());
    assert!(m.contains("node `body/conv` (Conv)"), "{m}");
    assert!(m.contains("`w` is not a constant"), "{m}");
}

/// A file cut anywhere is refused as truncated, naming the file, and never panics.
#[test]
fn truncated_files_are_refused() {
    let bytes = std::fs::read(data("cnn.onnx")).unwrap();
    for cut in [
        0,
        1,
        10,
        100,
        bytes.len() / 3,
        bytes.len() / 2,
        bytes.len() - 1,
    ] {
        let e = import_onnx_bytes(&bytes[..cut], "cut.onnx", "cut").unwrap_err();
        assert!(matches!(e, OnnxError::Decode { .. }), "cut at {cut}: {e}");
        let m = message(e);
        assert!(m.contains("cut.onnx") && m.contains("truncated"), "{m}");
    }
}

/// Inputs are taken channels first, flat, or with dimensions of size 1 left out; a shape with
/// the right count in another order (channels last) is refused, not reinterpreted.
#[test]
fn inputs_are_taken_channels_first_only() {
    let chw = [3, 8, 8];
    for ok in [vec![2, 3, 8, 8], vec![2, 192], vec![2, 1, 3, 8, 8]] {
        let x = ArrayD::<f32>::zeros(ok.clone());
        assert_eq!(
            as_frames(x, chw, "x").unwrap().shape(),
            [2, 3, 8, 8],
            "{ok:?}"
        );
    }
    let nhwc = ArrayD::<f32>::zeros(vec![2, 8, 8, 3]);
    let e = as_frames(nhwc, chw, "--inputs x.npy")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("[2, 8, 8, 3]") && e.contains("channels first"),
        "{e}"
    );
    let one = ArrayD::<f32>::zeros(vec![4, 8, 8]);
    assert_eq!(
        as_frames(one, [1, 8, 8], "x").unwrap().shape(),
        [4, 1, 8, 8]
    );
}
