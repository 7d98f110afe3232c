//! Detectors from descriptions, pruning, checkpoints, decoding and the NaN guard.

use nestevo_data::GtBox;
use nestevo_model::{load_model, parse_model};
use nestevo_train::{
    checkpoint, decode, detector::Detector, frames::FramePool, loss, prune::prune, trainer,
};
use std::path::Path;
use tch::{Device, Kind, Tensor};

fn terminal() -> Detector {
    tch::manual_seed(0);
    Detector::new(
        &load_model(Path::new("models/terminal.toml")).unwrap(),
        4,
        Device::Cpu,
    )
    .unwrap()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn shipped_models_build_with_stride_4_heads_and_global_is_larger() {
    let _serial = crate::serial();
    let t = terminal();
    let g = Detector::new(
        &load_model(Path::new("models/global.toml")).unwrap(),
        4,
        Device::Cpu,
    )
    .unwrap();
    let x = Tensor::rand([2, 3, 96, 96], (Kind::Float, Device::Cpu));
    let o = t.forward(&x, false).unwrap();
    assert_eq!(o.hm.size(), [2, 4, 24, 24]);
    assert_eq!(o.wh.size(), [2, 2, 24, 24]);
    assert_eq!(o.off.size(), [2, 2, 24, 24]);
    assert_eq!(t.stride, 4.0);
    assert!(
        g.params() > 2 * t.params(),
        "global {} terminal {}",
        g.params(),
        t.params()
    );
    // The heat-map bias starts at -2.19 (score 0.1).
    let p = o.hm.sigmoid().mean(Kind::Float).double_value(&[]);
    assert!(p > 0.02 && p < 0.3, "{p}");
    let err = t
        .forward(
            &Tensor::rand([1, 3, 64, 64], (Kind::Float, Device::Cpu)),
            false,
        )
        .unwrap_err();
    assert!(err.to_string().contains("[B, 3, 96, 96]"), "{err}");
}

#[test]
fn a_head_of_the_wrong_width_is_a_clear_error() {
    let _serial = crate::serial();
    let text = std::fs::read_to_string("models/terminal.toml").unwrap();
    let desc = parse_model(&text, "models/terminal.toml").unwrap();
    let err = Detector::new(&desc, 7, Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("models/terminal.toml") && err.contains("hm") && err.contains('7'),
        "{err}"
    );
}

#[test]
fn pruning_removes_channels_and_keeps_the_function_at_ratio_zero() {
    let _serial = crate::serial();
    let base = terminal();
    let x = Tensor::rand([2, 3, 96, 96], (Kind::Float, Device::Cpu));
    let same = prune(&base, 0.0, "same").unwrap();
    let (a, b) = (
        base.forward(&x, false).unwrap(),
        same.forward(&x, false).unwrap(),
    );
    assert!(max_diff(&a.hm, &b.hm) < 1e-5 && max_diff(&a.wh, &b.wh) < 1e-5);
    let mut last = base.params();
    for (r, name) in [(0.3, "M1"), (0.5, "M2"), (0.7, "M3")] {
        let m = prune(&base, r, name).unwrap();
        assert!(
            m.params() < last,
            "{name}: {} params, not below {last}",
            m.params()
        );
        last = m.params();
        assert_eq!(m.forward(&x, false).unwrap().hm.size(), [2, 4, 24, 24]);
        // The description is written for the pruned widths and reads back equal.
        let again = parse_model(&m.desc.to_toml(), name).unwrap();
        assert_eq!(again, m.desc);
    }
}

#[test]
fn pruning_keeps_the_largest_l1_filters() {
    let _serial = crate::serial();
    let base = terminal();
    // Make filter 5 of `stem` tiny: it must be among those removed.
    let vars = base.vs.variables();
    let _ = tch::no_grad(|| vars["stem.weight"].get(5).fill_(1e-6));
    let m = prune(&base, 0.3, "M1").unwrap();
    let kept = m.vs.variables()["stem.weight"].copy();
    let orig = vars["stem.weight"].copy();
    assert_eq!(kept.size()[0], (orig.size()[0] as f64 * 0.7).round() as i64);
    for i in 0..kept.size()[0] {
        assert!(kept.get(i).abs().sum(Kind::Float).double_value(&[]) > 1e-3);
    }
}

const WITH_ADD: &str = r#"
name = "res"
input = [3, 16, 16]
outputs = ["hm", "wh", "off"]
[[layers]]
name = "a"
op = "conv"
out_channels = 8
kernel = 3
stride = 4
padding = 1
[[layers]]
name = "b"
op = "conv"
out_channels = 8
kernel = 3
padding = 1
[[layers]]
name = "sum"
op = "add"
inputs = ["a", "b"]
[[layers]]
name = "c"
op = "conv"
out_channels = 10
kernel = 3
padding = 1
[[layers]]
name = "hm"
op = "conv"
out_channels = 4
kernel = 1
[[layers]]
name = "wh"
op = "conv"
inputs = ["c"]
out_channels = 2
kernel = 1
[[layers]]
name = "off"
op = "conv"
inputs = ["c"]
out_channels = 2
kernel = 1
"#;

#[test]
fn convs_feeding_an_add_are_not_pruned() {
    let _serial = crate::serial();
    let desc = parse_model(WITH_ADD, "res.toml").unwrap();
    let m = Detector::new(&desc, 4, Device::Cpu).unwrap();
    let p = prune(&m, 0.5, "half").unwrap();
    let widths: Vec<usize> = p.desc.shapes().unwrap().iter().map(|s| s[0]).collect();
    assert_eq!(widths, vec![8, 8, 8, 5, 4, 2, 2]);
    let x = Tensor::rand([1, 3, 16, 16], (Kind::Float, Device::Cpu));
    assert_eq!(p.forward(&x, false).unwrap().hm.size(), [1, 4, 4, 4]);
}

#[test]
fn checkpoint_round_trip_and_missing_description() {
    let _serial = crate::serial();
    let m = terminal();
    let dir = tempfile::tempdir().unwrap();
    let state = checkpoint::TrainState {
        model: "terminal".into(),
        step: 7,
        total_steps: 9,
        ..Default::default()
    };
    let w = checkpoint::save(&m, dir.path(), &state).unwrap();
    let (back, st) = checkpoint::load(&w, Device::Cpu).unwrap();
    assert_eq!(st.unwrap(), state);
    let x = Tensor::rand([2, 3, 96, 96], (Kind::Float, Device::Cpu));
    assert!(
        max_diff(
            &m.forward(&x, false).unwrap().hm,
            &back.forward(&x, false).unwrap().hm
        ) < 1e-6
    );
    std::fs::remove_file(w.with_extension("toml")).unwrap();
    let err = checkpoint::load(&w, Device::Cpu).err().unwrap().to_string();
    assert!(
        err.contains("terminal.toml") && err.contains("missing"),
        "{err}"
    );
}

#[test]
fn targets_and_decoding_agree_on_a_hand_made_box() {
    let _serial = crate::serial();
    // One car from (20, 30) to (44, 46): centre (32, 38) px = cell (8, 9.5), size 6 x 4 cells.
    let g = GtBox {
        class: 1,
        x0: 20.0,
        y0: 30.0,
        x1: 44.0,
        y1: 46.0,
    };
    let t = loss::build_targets(&[vec![g]], 4, (24, 24), 4.0, Device::Cpu);
    assert_eq!(t.hm.double_value(&[0, 1, 9, 8]), 1.0);
    assert!(
        t.hm.sum(Kind::Float).double_value(&[]) > 1.0,
        "a Gaussian around the peak"
    );
    assert_eq!(t.ind.int64_value(&[0, 0]), 9 * 24 + 8);
    assert_eq!(t.wh.double_value(&[0, 0, 0]), 6.0);
    assert_eq!(t.off.double_value(&[0, 0, 1]), 0.5);
    // A network output that equals the targets decodes back to the box.
    let logit = |p: &Tensor| p.logit(1e-6);
    let wh = Tensor::zeros([1, 2, 24, 24], (Kind::Float, Device::Cpu));
    let off = Tensor::zeros([1, 2, 24, 24], (Kind::Float, Device::Cpu));
    let _ = wh.get(0).get(0).get(9).get(8).fill_(6.0);
    let _ = wh.get(0).get(1).get(9).get(8).fill_(4.0);
    let _ = off.get(0).get(1).get(9).get(8).fill_(0.5);
    let out = loss::HeadOut {
        hm: logit(&t.hm),
        wh,
        off,
    };
    let d = decode::decode(
        &out,
        &[42],
        (96, 96),
        &decode::DecodeConfig {
            min_score: 0.5,
            ..Default::default()
        },
    );
    assert_eq!(d.len(), 1, "{d:?}");
    let d = d[0];
    assert_eq!((d.image_id, d.class), (42, 1));
    assert!(
        (d.x0 - 20.0).abs() < 1e-4
            && (d.y0 - 30.0).abs() < 1e-4
            && (d.x1 - 44.0).abs() < 1e-4
            && (d.y1 - 46.0).abs() < 1e-4,
        "{d:?}"
    );
    // The focal loss of that output is far below the untrained one's.
    assert!(loss::focal_loss(&out.hm, &t.hm).double_value(&[]) < 0.1);
}

#[test]
fn a_nan_loss_stops_training_naming_model_and_step() {
    let _serial = crate::serial();
    let mut m = terminal();
    let vars = m.vs.variables();
    let _ = tch::no_grad(|| vars["hm.bias"].shallow_clone().fill_(f64::NAN));
    let mut pool = FramePool::new(nestevo_data::StreamId::Source, 1);
    let cfg = trainer::TrainConfig {
        steps: 3,
        batch: 2,
        lr: 1e-3,
        weight_decay: 0.0,
        warmup: 1,
        seed: 0,
        checkpoint_dir: None,
        checkpoint_every: 0,
        start_step: 0,
        progress: false,
    };
    let err = trainer::train(
        &mut m,
        &mut |n| pool.sample(n),
        &trainer::Objective::Supervised,
        &cfg,
    )
    .unwrap_err();
    let s = err.to_string();
    assert!(
        s.contains("terminal") && s.contains("step 0") && s.contains("NaN"),
        "{s}"
    );
}

#[test]
fn pseudo_label_and_distillation_objectives_train() {
    let _serial = crate::serial();
    let teacher = terminal();
    let mut student = prune(&teacher, 0.5, "student").unwrap();
    let cfg = trainer::TrainConfig {
        steps: 3,
        batch: 4,
        lr: 1e-3,
        weight_decay: 0.0,
        warmup: 1,
        seed: 0,
        checkpoint_dir: None,
        checkpoint_every: 0,
        start_step: 0,
        progress: false,
    };
    let mut pool = FramePool::new(nestevo_data::StreamId::A, 2);
    // An untrained teacher scores about 0.1 everywhere: a threshold of 0.05 yields many boxes.
    let x = Tensor::rand([2, 3, 96, 96], (Kind::Float, Device::Cpu));
    let boxes = trainer::pseudo_labels(&teacher, &x, 0.05).unwrap();
    assert_eq!(boxes.len(), 2);
    assert!(boxes.iter().all(|b| !b.is_empty() && b.len() <= 50));
    for objective in [
        trainer::Objective::Pseudo {
            teacher: &teacher,
            min_score: 0.05,
        },
        trainer::Objective::Distill {
            teacher: &teacher,
            gt_weight: 0.0,
        },
    ] {
        let r = trainer::train(&mut student, &mut |n| pool.sample(n), &objective, &cfg).unwrap();
        assert!(r.first_loss.is_finite() && r.last_loss.is_finite() && r.steps == 3);
    }
}
