//! `nestevo cim run` on a checkpoint end to end, its bad input refused clearly, and the ndarray
//! runner against the trainer's own network and decoder (LibTorch).

#[cfg(feature = "torch")]
use crate::support::max_abs_diff;
use crate::support::random_tensors;
#[cfg(feature = "torch")]
use ndarray::Array4;
#[cfg(feature = "torch")]
use nestevo_arch::preset;
#[cfg(feature = "torch")]
use nestevo_cim::{CimNetwork, NoiseSpec};
#[cfg(feature = "torch")]
use nestevo_couple::load_checkpoint;
#[cfg(feature = "torch")]
use nestevo_eval::decode::{decode, DecodeConfig, Heads};
use nestevo_model::parse_model;
use std::process::Command;

/// A checkpoint with random weights for `models/terminal.toml`, as the trainer lays it out.
fn terminal_checkpoint(dir: &std::path::Path) -> std::path::PathBuf {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/models/terminal.toml"))
            .unwrap();
    let desc = parse_model(&text, "terminal.toml").unwrap();
    let w = dir.join("terminal.safetensors");
    random_tensors(&desc, 5).write(&w).unwrap();
    std::fs::write(dir.join("terminal.toml"), text).unwrap();
    w
}

#[test]
fn cli_runs_a_checkpoint_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let w = terminal_checkpoint(dir.path());
    let out = dir.path().join("r.json");
    let o = Command::new(env!("CARGO_BIN_EXE_nestevo"))
        .args(["cim", "run", "--checkpoint"])
        .arg(&w)
        .args([
            "--stream",
            "D",
            "--frames",
            "2",
            "--calib-frames",
            "1",
            "--json",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let f: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(j, f, "--out holds what --json prints");
    assert_eq!(j["frames"], 2);
    assert_eq!(j["stream"], "D");
    assert_eq!(
        j["layers"].as_array().unwrap().len(),
        12,
        "every conv of terminal on crossbars"
    );
    assert_eq!(j["folded_batch_norms"], 9);
    assert!(j["total"]["macs"].as_u64().unwrap() > 0);
    assert!(j["float"]["map50"].as_f64().unwrap() >= 0.0);
    // The table carries units.
    let o = Command::new(env!("CARGO_BIN_EXE_nestevo"))
        .args(["cim", "run", "--checkpoint"])
        .arg(&w)
        .args([
            "--frames",
            "1",
            "--calib-frames",
            "1",
            "--noise",
            "cell",
            "--mu",
            "0.01",
        ])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success()
            && s.contains("mAP@0.5")
            && s.contains(" s (+ ")
            && s.contains("conversions"),
        "{s}"
    );
}

/// Frames per forward change no figure of the report but the timings (the kernels compute each
/// frame alone; cell noise drawn at programming), and the report says how many.
#[test]
fn frames_per_forward_change_no_figure() {
    let dir = tempfile::tempdir().unwrap();
    let w = terminal_checkpoint(dir.path());
    let run = |batch: &[&str]| -> serde_json::Value {
        let o = Command::new(env!("CARGO_BIN_EXE_nestevo"))
            .args(["cim", "run", "--checkpoint"])
            .arg(&w)
            .args(["--frames", "5", "--calib-frames", "1", "--json"])
            .args(["--noise", "cell", "--mu", "0.01"])
            .args(batch)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let m = j.as_object_mut().unwrap();
        m.retain(|k, _| !k.ends_with("_seconds"));
        j
    };
    let mut whole = run(&[]);
    let mut two = run(&["--batch", "2"]);
    assert_eq!(whole["batch"], 8);
    assert_eq!(two["batch"], 2);
    whole["batch"] = 0.into();
    two["batch"] = 0.into();
    assert_eq!(whole, two);
}

#[test]
fn cli_refuses_bad_input_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_nestevo"))
            .args(["cim", "run"])
            .args(args)
            .output()
            .unwrap();
        assert!(!o.status.success());
        let e = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(!e.contains("panicked"), "{e}");
        e
    };
    let missing = dir.path().join("none.safetensors");
    let e = run(&["--checkpoint", missing.to_str().unwrap()]);
    assert!(
        e.contains("none.safetensors") && e.contains("no such file"),
        "{e}"
    );
    let w = terminal_checkpoint(dir.path());
    let e = run(&["--checkpoint", w.to_str().unwrap(), "--mu", "0.1"]);
    assert!(e.contains("--noise none"), "{e}");
    let e = run(&["--checkpoint", w.to_str().unwrap(), "--stream", "Z"]);
    assert!(e.contains("allowed are source, A, B, C, D, E"), "{e}");
    let e = run(&["--checkpoint", w.to_str().unwrap(), "--batch", "0"]);
    assert!(e.contains("--batch 0") && e.contains("1 or more"), "{e}");
}

/// The ndarray runner against the trainer's own network and decoder.
#[cfg(feature = "torch")]
mod torch_side {
    use super::*;
    use nestevo_couple::batch_from_frames;
    use nestevo_data::StreamId;
    use nestevo_eval::{Detection, HeldOut};
    use nestevo_train::{checkpoint, decode as tdecode, detector::Detector, loss::HeadOut};
    use tch::{Device, Kind, Tensor};

    fn to_tensor(a: &Array4<f32>) -> Tensor {
        let d = a.dim();
        Tensor::from_slice(a.as_standard_layout().as_slice().unwrap())
            .view([d.0 as i64, d.1 as i64, d.2 as i64, d.3 as i64])
    }

    fn to_array(t: &Tensor) -> Array4<f32> {
        let s = t.size();
        let v = Vec::<f32>::try_from(t.contiguous().view(-1)).unwrap();
        Array4::from_shape_vec(
            (s[0] as usize, s[1] as usize, s[2] as usize, s[3] as usize),
            v,
        )
        .unwrap()
    }

    #[test]
    fn float_forward_equals_the_trainers_eval_forward() {
        tch::manual_seed(3);
        let desc = nestevo_model::load_model(std::path::Path::new("models/terminal.toml")).unwrap();
        let model = Detector::new(&desc, 4, Device::Cpu).unwrap();
        // Batch-norm statistics away from identity, as after training.
        tch::no_grad(|| {
            for (name, mut v) in model.vs.variables() {
                if name.ends_with("running_mean") || name.ends_with("bias") {
                    v.copy_(&(Tensor::rand(v.size(), (Kind::Float, Device::Cpu)) - 0.5));
                } else if name.ends_with("running_var") {
                    v.copy_(&(Tensor::rand(v.size(), (Kind::Float, Device::Cpu)) + 0.5));
                }
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let w = checkpoint::save(&model, dir.path(), &Default::default()).unwrap();
        let (d2, t) = load_checkpoint(&w, None).unwrap();
        let net =
            CimNetwork::new(&d2, &t, &preset("isaac").unwrap(), &NoiseSpec::default()).unwrap();
        let frames = HeldOut::new(StreamId::Source, 3)
            .with_seed(9)
            .unwrap()
            .render(96, 96)
            .unwrap();
        let x = batch_from_frames(&frames, &desc.name, desc.input).unwrap();
        let rgb: Vec<&[u8]> = frames.iter().map(|f| f.rgb.as_slice()).collect();
        let xt = model.batch_from_rgb(&rgb);
        assert!(
            max_abs_diff(x.view(), to_array(&xt).view()) < 1e-7,
            "same input normalisation"
        );
        let ours = net.forward_float(x.view()).unwrap();
        let theirs = tch::no_grad(|| model.forward(&xt, false).unwrap());
        for (a, b) in ours.iter().zip([&theirs.hm, &theirs.wh, &theirs.off]) {
            let d = max_abs_diff(a.view(), to_array(b).view());
            assert!(d < 1e-4, "ndarray float forward differs from tch by {d}");
        }
        // And the decoders agree on those heads.
        let heads = Heads::from_outputs(ours).unwrap();
        let out = HeadOut {
            hm: to_tensor(&heads.hm),
            wh: to_tensor(&heads.wh),
            off: to_tensor(&heads.off),
        };
        let ids: Vec<u64> = frames.iter().map(|f| f.index).collect();
        let a = decode(&heads, &ids, (96, 96), &DecodeConfig::default()).unwrap();
        let b = tdecode::decode(&out, &ids, (96, 96), &Default::default());
        assert!(!a.is_empty());
        assert_eq!(a.len(), b.len());
        // The same detections; among equal scores the two top-k's orders may differ, so each
        // of ours is matched to one of theirs, not to the one at its index.
        let same = |x: &Detection, y: &Detection| {
            (x.image_id, x.class) == (y.image_id, y.class)
                && [
                    (x.score, y.score),
                    (x.x0, y.x0),
                    (x.y0, y.y0),
                    (x.x1, y.x1),
                    (x.y1, y.y1),
                ]
                .iter()
                .all(|(p, q)| (p - q).abs() < 1e-5)
        };
        let mut unused = vec![true; b.len()];
        for (i, x) in a.iter().enumerate() {
            let j = (0..b.len()).find(|&j| unused[j] && same(x, &b[j]));
            let j = j.unwrap_or_else(|| panic!("{x:?} not among theirs (near {:?})", b[i]));
            unused[j] = false;
        }
    }
}
