//! `nestevo cim run --backend torch` runs the LibTorch crossbar engine end to end.
#![cfg(feature = "torch")]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Random tensors for every layer of `desc`, named as the trainer names them.
fn random_tensors(desc: &nestevo_model::ModelDesc, seed: u64) -> nestevo_model::Tensors {
    use ndarray::{ArrayD, IxDyn};
    use nestevo_model::Op;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut t = nestevo_model::Tensors::default();
    let mut u = |shape: &[usize], lo: f32, hi: f32| {
        ArrayD::from_shape_fn(IxDyn(shape), |_| rng.gen_range(lo..hi))
    };
    for step in desc.walk().unwrap() {
        let (l, inp) = (step.layer, step.input());
        let n = &l.name;
        match &l.op {
            Op::Conv {
                out_channels: o,
                kernel,
                groups,
                bias,
                ..
            } => {
                let a = (6.0 / (inp[0] / groups * kernel[0] * kernel[1]) as f32).sqrt();
                let shape = [*o, inp[0] / groups, kernel[0], kernel[1]];
                t.insert(&format!("{n}.weight"), u(&shape, -a, a));
                if *bias {
                    t.insert(&format!("{n}.bias"), u(&[*o], -0.1, 0.1));
                }
            }
            Op::Linear {
                out_features: o,
                bias,
            } => {
                let k: usize = inp.iter().product();
                let a = (3.0 / k as f32).sqrt();
                t.insert(&format!("{n}.weight"), u(&[*o, k], -a, a));
                if *bias {
                    t.insert(&format!("{n}.bias"), u(&[*o], -0.1, 0.1));
                }
            }
            Op::BatchNorm => {
                let c = inp[0];
                t.insert(&format!("{n}.weight"), u(&[c], 0.8, 1.2));
                t.insert(&format!("{n}.bias"), u(&[c], -0.1, 0.1));
                t.insert(&format!("{n}.running_mean"), u(&[c], -0.1, 0.1));
                t.insert(&format!("{n}.running_var"), u(&[c], 0.8, 1.2));
            }
            _ => {}
        }
    }
    t
}

/// `nestevo cim run --backend torch` end to end (a random-weight terminal checkpoint, one
/// frame): the report names the engine and its counts equal `--backend cpu`'s.
#[test]
fn cim_run_takes_the_torch_backend() {
    let dir = tempfile::tempdir().unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/models/terminal.toml");
    let desc = nestevo_model::load_model(std::path::Path::new(path)).unwrap();
    let w = dir.path().join("terminal.safetensors");
    random_tensors(&desc, 6).write(&w).unwrap();
    std::fs::copy(path, dir.path().join("terminal.toml")).unwrap();
    let run = |backend: &str| -> serde_json::Value {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_nestevo"))
            .args(["cim", "run", "--checkpoint"])
            .arg(&w)
            .args(["--frames", "1", "--calib-frames", "1", "--json"])
            .args(["--backend", backend])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let (c, t) = (run("cpu"), run("torch"));
    assert_eq!(
        (c["backend"].as_str(), t["backend"].as_str()),
        (Some("cpu"), Some("torch"))
    );
    assert_eq!(c["total"], t["total"]);
    assert_eq!(c["max_abs_diff"], t["max_abs_diff"]);
}
