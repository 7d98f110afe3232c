#![cfg(feature = "torch")]
//! The generator's samples in the terminal's loss: the map from the intermediate's latent into
//! the pruned terminal's, and the term in a pair.

use nestevo_couple::label::Labelled;
use nestevo_evolve::coevolve::{
    class_counts, copy_model, latent_projection, project_samples, train_pair, PairConfig,
};
use nestevo_evolve::generator::Head;
use nestevo_train::detector::Detector;
use nestevo_train::prune::prune;
use tch::{Device, Kind, Tensor};

use crate::common::{labelled_frames, pair_config, trained_generator};

/// `[z, 1] P` through a ReLU, each row at the given norm, by hand.
#[test]
fn projected_samples_equal_a_hand_computation() {
    let z = Tensor::from_slice(&[1.0f32, 2.0, 0.0, 3.0]).reshape([2, 2]);
    // [latent 2 + intercept, 2]
    let p = Tensor::from_slice(&[1.0f32, -1.0, 0.0, 1.0, 0.5, 0.0]).reshape([3, 2]);
    let got = Vec::<f32>::try_from(project_samples(&z, &p, 2.0).reshape([-1])).unwrap();
    // Row 0: [1 + 0.5, -1 + 2] = [1.5, 1]; row 1: [0.5, 3] (no negative part to cut).
    let unit = |a: f32, b: f32| {
        let n = a.hypot(b) + 1e-6;
        [2.0 * a / n, 2.0 * b / n]
    };
    let want: Vec<f32> = [unit(1.5, 1.0), unit(0.5, 3.0)].concat();
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-5, "{got:?} against {want:?}");
    }
    // A negative coordinate is cut by the ReLU.
    let p = Tensor::from_slice(&[-1.0f32, 1.0, 0.0, 1.0, 0.0, 0.0]).reshape([3, 2]);
    let got = Vec::<f32>::try_from(project_samples(&z, &p, 1.0).reshape([-1])).unwrap();
    assert_eq!(got[0], 0.0, "{got:?}");
}

/// From a model to its own copy the fitted map is the identity (R^2 near 1, a sample comes out
/// as itself at the copy's latent scale); into a pruned terminal it maps onto the narrower latent;
/// without boxes there is nothing to fit.
#[test]
fn latent_projection_fits_the_terminals_latent() {
    let _serial = crate::serial();
    tch::set_num_threads(1);
    let (fs, teacher, labels) = labelled_frames();
    let copy = copy_model(&teacher, "copy").unwrap();
    let (p, norm, r2) = latent_projection(&teacher, &copy, &fs, &labels)
        .unwrap()
        .expect("boxes to fit on");
    let d = Head::of(&teacher).unwrap().latent_dim() as i64;
    assert_eq!(p.size(), [d + 1, d]);
    assert!(r2 > 0.99, "R^2 {r2}");
    assert!(norm > 0.0);
    let z = Tensor::rand([5, d], (Kind::Float, Device::Cpu));
    let zn = &z * norm
        / (z.square()
            .sum_dim_intlist([1i64].as_slice(), true, Kind::Float)
            .sqrt());
    let err = (project_samples(&z, &p, norm) - &zn)
        .abs()
        .max()
        .double_value(&[]);
    assert!(err < 0.05 * norm, "identity map off by {err} (norm {norm})");
    let local = prune(&teacher, 0.5, "local").unwrap();
    let dl = Head::of(&local).unwrap().latent_dim() as i64;
    assert!(dl < d, "pruning narrows the latent ({dl} of {d})");
    let (p, _, r2) = latent_projection(&teacher, &local, &fs, &labels)
        .unwrap()
        .unwrap();
    assert_eq!(p.size(), [d + 1, dl]);
    // Pruning removed channels below the latent too, so the pruned latent is close to, not
    // exactly, a part of the teacher's: a good fit, not a perfect one.
    assert!(r2 > 0.5 && r2 < 0.999, "R^2 {r2}");
    let none: Vec<Labelled> = labels
        .iter()
        .map(|l| Labelled {
            boxes: Vec::new(),
            ..l.clone()
        })
        .collect();
    assert!(latent_projection(&teacher, &local, &fs, &none)
        .unwrap()
        .is_none());
}

/// With the terminal's term on, the pair reports the samples' cross-entropy on the terminal's
/// head, which falls over the steps, and the terminal ends elsewhere than without it; without
/// it the report has neither figure.
#[test]
fn the_terminal_learns_from_projected_samples() {
    let _serial = crate::serial();
    tch::set_num_threads(1);
    let (fs, teacher, labels) = labelled_frames();
    let counts = class_counts(&labels, 4);
    let total: usize = counts.iter().sum();
    let prior: Vec<f64> = counts.iter().map(|&c| c as f64 / total as f64).collect();
    let g = trained_generator(&teacher, &counts, 30);
    let run = |terminal: f64| {
        let mut local = prune(&teacher, 0.5, "local").unwrap();
        let mut mid = copy_model(&teacher, "mid").unwrap();
        let r = train_pair(
            &mut local,
            &mut mid,
            &fs,
            &labels,
            Some((&g, prior.as_slice())),
            &PairConfig {
                lr: 3e-3,
                samples: 16,
                terminal,
                ..pair_config("terminal samples test")
            },
        )
        .unwrap();
        (local, r)
    };
    let ((without, r0), (with, r1)) = (run(0.0), run(5.0));
    assert!(
        r0.terminal_ce.is_none() && r0.projection_r2.is_none(),
        "{r0:?}"
    );
    let (a, b) = r1.terminal_ce.unwrap();
    assert!(
        a.is_finite() && b.is_finite() && b < a,
        "the samples' CE falls: {r1:?}"
    );
    assert!(r1.projection_r2.unwrap() > 0.5, "{r1:?}");
    let head = |m: &Detector| {
        let name = format!("{}.weight", m.desc.outputs[0]);
        m.vs.variables()[&name].copy()
    };
    let moved = (head(&with) - head(&without))
        .abs()
        .sum(Kind::Double)
        .double_value(&[]);
    assert!(moved > 0.0, "the terminal's head differs");
}
