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
use nestevo_model::Tensors;
use nestevo_model::{load_model, Op};
use std::path::{Path, PathBuf};
use std::process::Command;

fn data(f: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
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

/// `nestevo model import` writes a description that loads back equal to the import, and
/// every --model reader takes the .onnx file itself.
#[test]
fn import_cli_writes_a_loadable_description() {
    let d = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_nestevo");
    let onnx = data("cnn.onnx");
    let o = Command::new(bin)
        .args(["model", "import", onnx.to_str().unwrap(), "--out"])
        .arg(d.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let desc = load_model(&d.path().join("cnn.toml")).unwrap();
    assert_eq!(desc, import_onnx(&onnx).unwrap().desc);
    assert_eq!(desc, load_model(&onnx).unwrap());
    let t = Tensors::read(&d.path().join("cnn.safetensors")).unwrap();
    assert_eq!(t.map.len(), import_onnx(&onnx).unwrap().weights.len());
    let o = Command::new(bin)
        .args(["cim", "report", "--json", "--model", onnx.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["model"], "cnn");
    assert_eq!(j["layers"].as_array().unwrap().len(), 5);
}

/// `nestevo cim run --model NET.onnx --inputs X --out DIR` writes a float/cim pair per output
/// and a report whose differences are those of the files.
#[test]
fn cim_run_inputs_writes_outputs_and_report() {
    let d = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_nestevo"))
        .args(["cim", "run", "--model"])
        .arg(data("mlp.onnx"))
        .arg("--inputs")
        .arg(data("mlp_x.npy"))
        .arg("--out")
        .arg(d.path())
        .arg("--json")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let f: ArrayD<f32> = read_npy(d.path().join("float.npy")).unwrap();
    let c: ArrayD<f32> = read_npy(d.path().join("cim.npy")).unwrap();
    assert_eq!(f.shape(), [3, 4]);
    assert!(rel(&f, &npy("mlp_y.npy")) <= 1e-4);
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("report.json")).unwrap())
            .unwrap();
    let max = f
        .iter()
        .zip(&c)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    let reported = j["outputs"][0]["max_abs_diff"].as_f64().unwrap() as f32;
    assert!((reported - max).abs() <= 1e-9, "{reported} vs {max}");
    assert_eq!(j["layers"].as_array().unwrap().len(), 2);
    assert!(j["energy_total_uj"].as_f64().unwrap() > 0.0);
    assert!(j["pipeline_time_us"].as_f64().unwrap() > 0.0);
}

fn message(e: OnnxError) -> String {
    e.to_string()
}

/// An unsupported op is refused with the node's name, its op type and the supported list.
#[test]
fn unsupported_op_names_node_op_and_list() {
    let m = message(import_onnx(&data("unsupported.onnx")).unwrap_err());
    assert!(m.contains("head/softmax"), "{m}");
    assert!(m.contains("`Softmax`"), "{m}");
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

/// Several outputs give one float/cim pair each, named after the output layer; inputs of the
/// wrong shape are refused naming the file, the shape and what the network takes.
#[test]
fn cim_run_inputs_names_outputs_and_refuses_bad_shapes() {
    let d = tempfile::tempdir().unwrap();
    let run = |x: &Path| {
        Command::new(env!("CARGO_BIN_EXE_nestevo"))
            .args(["cim", "run", "--model"])
            .arg(data("cnn.onnx"))
            .arg("--inputs")
            .arg(x)
            .arg("--out")
            .arg(d.path())
            .output()
            .unwrap()
    };
    let o = run(&data("cnn_x.npy"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "float_up_concat.npy",
        "cim_up_concat.npy",
        "float_head_fc.npy",
        "cim_head_fc.npy",
    ] {
        assert!(d.path().join(f).is_file(), "{f}");
    }
    let logits: ArrayD<f32> = read_npy(d.path().join("float_head_fc.npy")).unwrap();
    assert!(rel(&logits, &npy("cnn_logits.npy")) <= 1e-4);
    let o = run(&data("mlp_x.npy"));
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("mlp_x.npy") && e.contains("[3, 2, 4, 4]") && e.contains("[batch, 3, 16, 16]"),
        "{e}"
    );
}
