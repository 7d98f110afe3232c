//! `nestevo model import` writes a loadable description; `nestevo cim run --inputs` writes
//! the float and crossbar outputs with a report, and refuses bad shapes and names clearly.

use ndarray::ArrayD;
use ndarray_npy::read_npy;
use nestevo_model::load_model;
use nestevo_model::onnx::import_onnx;
use nestevo_model::Tensors;
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

/// max |a - b| / max |b|.
fn rel(a: &ArrayD<f32>, b: &ArrayD<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    let d = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    d / b.iter().fold(0f32, |m, v| m.max(v.abs()))
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
    assert_eq!(j["batch"], 8);
    // Two inputs per forward (2 + 1): the same outputs and counts.
    let d2 = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_nestevo"))
        .args(["cim", "run", "--model"])
        .arg(data("mlp.onnx"))
        .arg("--inputs")
        .arg(data("mlp_x.npy"))
        .args(["--batch", "2", "--out"])
        .arg(d2.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let c2: ArrayD<f32> = read_npy(d2.path().join("cim.npy")).unwrap();
    assert_eq!(c, c2);
    let j2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d2.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(j2["batch"], 2);
    assert_eq!(j["total"], j2["total"]);
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
