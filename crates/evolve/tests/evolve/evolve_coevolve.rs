#![cfg(feature = "torch")]
//! Co-evolution's training jobs on tiny models: the mutual-learning pair (Eq. 14-15 with
//! weight noise and generated samples), the gradient-reversal layer and A1's adaptation.

use nestevo_data::{Stream, StreamId};
use nestevo_evolve::adapt::{adapt, reverse_gradient, AdaptConfig};
use nestevo_evolve::coevolve::{
    class_counts, copy_model, train_pair, train_pair_with_replay, PairConfig, PairLabels,
};
use nestevo_train::detector::Detector;
use tch::{Kind, Tensor};

use crate::common;
use common::{pair_config, pseudo_boxes, tiny, trained_generator};

fn frames(n: u64) -> Vec<nestevo_data::Frame> {
    let st = Stream::new(StreamId::A, 1).with_size(16, 16);
    (0..n).map(|i| st.frame(i * 7)).collect()
}

fn distance(a: &Detector, b: &Detector) -> f64 {
    let (va, vb) = (a.vs.variables(), b.vs.variables());
    va.iter()
        .map(|(k, t)| (t - &vb[k]).abs().sum(Kind::Double).double_value(&[]))
        .sum()
}

/// A pair learns: both losses fall over 40 steps on the teacher's pseudo boxes, both models
/// move, the intermediate's weight noise is switched off afterwards, and generated samples
/// (a generator trained on the intermediate's head) enter without error.
#[test]
fn mutual_learning_pair_lowers_both_losses() {
    let _serial = crate::serial();
    tch::set_num_threads(1);
    let teacher = tiny(3);
    let fs = frames(8);
    let labels = pseudo_boxes(&teacher, &fs);
    let counts = class_counts(&labels, 4);
    assert!(counts.iter().sum::<usize>() > 0, "the teacher gives boxes");
    let (l0, m0) = (tiny(4), copy_model(&teacher, "mid").unwrap());
    let (mut local, mut mid) = (
        copy_model(&l0, "local").unwrap(),
        copy_model(&m0, "mid").unwrap(),
    );
    let g = trained_generator(&mid, &counts, 20);
    let total: usize = counts.iter().sum();
    let prior: Vec<f64> = counts.iter().map(|&c| c as f64 / total as f64).collect();
    let r = train_pair(
        &mut local,
        &mut mid,
        &fs,
        &labels,
        Some((&g, prior.as_slice())),
        &PairConfig {
            mu: 0.02,
            samples: 8,
            ..pair_config("test")
        },
    )
    .unwrap();
    assert!(r.local_last < r.local_first, "{r:?}");
    assert!(r.mid_last < r.mid_first, "{r:?}");
    assert!(distance(&local, &l0) > 0.0 && distance(&mid, &m0) > 0.0);
    assert!(mid.noise.is_none(), "noise is only for the pair's training");
}

/// A pair refuses frames without one label each, naming the job.
#[test]
fn mutual_learning_pair_refuses_mismatched_labels() {
    let _serial = crate::serial();
    let (mut a, mut b) = (tiny(1), tiny(2));
    let e = train_pair(
        &mut a,
        &mut b,
        &frames(2),
        &[],
        None,
        &PairConfig {
            steps: 1,
            batch: 1,
            lr: 1e-3,
            labels: PairLabels::Soft,
            freeze_mid_bn: false,
            seed: 0,
            ..pair_config("window 3, terminal x")
        },
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("window 3, terminal x") && e.contains("0 labels"),
        "{e}"
    );
}

/// Rehearsal: source frames fit to their ground truth change the intermediate (against the
/// same pair without them), and replay without source frames is refused, naming the job.
#[test]
fn replayed_source_frames_train_the_intermediate() {
    let _serial = crate::serial();
    tch::set_num_threads(1);
    let teacher = tiny(3);
    let fs = frames(6);
    let labels = pseudo_boxes(&teacher, &fs);
    let source: Vec<_> = {
        let st = Stream::new(StreamId::Source, 2).with_size(16, 16);
        (0..6).map(|i| st.frame(i * 11)).collect()
    };
    assert!(source.iter().any(|f| !f.boxes.is_empty()));
    let cfg = |replay| PairConfig {
        steps: 6,
        batch: 2,
        replay,
        seed: 3,
        ..pair_config("replay test")
    };
    let run = |replay, src: &[nestevo_data::Frame]| {
        let (mut l, mut m) = (tiny(4), copy_model(&teacher, "mid").unwrap());
        train_pair_with_replay(&mut l, &mut m, &fs, &labels, None, src, &cfg(replay)).map(|_| m)
    };
    let (m0, m4) = (run(0, &source).unwrap(), run(4, &source).unwrap());
    assert!(distance(&m0, &m4) > 0.0, "replay changes the intermediate");
    let e = run(4, &[]).err().unwrap().to_string();
    assert!(e.contains("replay test") && e.contains("none given"), "{e}");
}

/// The gradient-reversal layer is the identity forward and multiplies the gradient by -lambda.
#[test]
fn gradient_reversal_flips_the_gradient() {
    let _serial = crate::serial();
    let x = Tensor::from_slice(&[1.0f32, -2.0, 3.0]).set_requires_grad(true);
    let y = reverse_gradient(&x, 0.7);
    assert_eq!(
        Vec::<f32>::try_from(&y.detach()).unwrap(),
        vec![1.0, -2.0, 3.0]
    );
    (y * 2.0).sum(Kind::Float).backward();
    for g in Vec::<f32>::try_from(&x.grad()).unwrap() {
        assert!((g + 1.4).abs() < 1e-6, "{g}");
    }
}

/// A1's adaptation trains the terminal on labelled source frames against unlabelled target
/// frames: finite losses, the model moves, an unknown feature layer is named.
#[test]
fn adversarial_adaptation_runs_and_names_a_bad_layer() {
    let _serial = crate::serial();
    tch::set_num_threads(1);
    let src: Vec<_> = {
        let st = Stream::new(StreamId::Source, 2).with_size(16, 16);
        (0..6).map(|i| st.frame(i * 5)).collect()
    };
    let tgt = frames(6);
    let m0 = tiny(5);
    let mut m = copy_model(&m0, "t").unwrap();
    let cfg = AdaptConfig {
        steps: 6,
        batch: 2,
        lr: 1e-2,
        layer: "head_relu".into(),
        seed: 3,
        context: "test".into(),
    };
    let r = adapt(&mut m, &src, &tgt, &cfg).unwrap();
    assert!(r.det_last.is_finite() && r.domain_last.is_finite() && r.domain_last > 0.0);
    assert!(distance(&m, &m0) > 0.0);
    let e = adapt(
        &mut m,
        &src,
        &tgt,
        &AdaptConfig {
            layer: "nope".into(),
            ..cfg
        },
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("`nope`"), "{e}");
}
