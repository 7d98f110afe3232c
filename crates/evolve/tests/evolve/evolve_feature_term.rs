#![cfg(feature = "torch")]
//! The generator's feature-level term: its loss by hand, the cells it acts on against
//! `build_targets`, and its reach into the intermediate's feature extractor.

use nestevo_data::GtBox;
use nestevo_evolve::coevolve::{
    box_latent_norm, class_counts, copy_model, pseudo_boxes, train_pair, PairConfig,
};
use nestevo_evolve::feature_term::{centre_cells, feature_loss, prototypes, TAU};
use nestevo_train::loss::build_targets;
use tch::{Device, Kind, Tensor};

use crate::common::{labelled_frames, pair_config, tiny, trained_generator};

/// The index of the layer the heat-map head reads in the tiny detectors (their latent space).
fn head_relu(d: &nestevo_train::detector::Detector) -> usize {
    d.desc
        .layers
        .iter()
        .position(|l| l.name == "head_relu")
        .expect("the tiny detectors have a head_relu layer")
}

/// Two cells of a [1, 2, 2, 2] latent against three prototypes, the third of a class never
/// seen: the cross-entropy of cosine logits over the two known classes, computed by hand.
#[test]
fn feature_loss_equals_a_hand_computation() {
    // Channel 0 then channel 1, each a 2x2 plane (rows y, columns x).
    let feats =
        Tensor::from_slice(&[1.0f32, 0.0, 2.0, 3.0, 0.0, 1.0, 2.0, 1.0]).reshape([1, 2, 2, 2]);
    let protos = Tensor::from_slice(&[1.0f32, 0.0, 1.0, 1.0, -1.0, 0.5]).reshape([3, 2]);
    let known = [true, true, false];
    // Cell (y 0, x 0) = (1, 0) of class 1; cell (y 1, x 1) = (3, 1) of class 0.
    let cells = [[0, 0, 0, 1], [0, 1, 1, 0]];
    let got = feature_loss(&feats, &cells, &protos, &known)
        .unwrap()
        .double_value(&[]);
    let cos = |a: [f64; 2], b: [f64; 2]| {
        (a[0] * b[0] + a[1] * b[1]) / ((a[0].hypot(a[1]) + 1e-6) * (b[0].hypot(b[1]) + 1e-6))
    };
    let ce = |f: [f64; 2], y: usize| {
        let l: Vec<f64> = [[1.0, 0.0], [1.0, 1.0]]
            .iter()
            .map(|&p| cos(f, p) / TAU)
            .collect();
        let lse = l.iter().map(|v| v.exp()).sum::<f64>().ln();
        lse - l[y]
    };
    let want = (ce([1.0, 0.0], 1) + ce([3.0, 1.0], 0)) / 2.0;
    assert!((got - want).abs() < 1e-4, "{got} against {want}");
    assert!(feature_loss(&feats, &[], &protos, &known).is_none());
}

/// Every cell the term acts on is a centre `build_targets` puts a peak of 1 at, in its class's
/// plane; boxes of no area or unknown class give none.
#[test]
fn centre_cells_are_the_targets_peaks() {
    let b = |class, x0, y0, x1, y1| GtBox {
        class,
        x0,
        y0,
        x1,
        y1,
    };
    let boxes = vec![
        vec![
            b(0, 1.0, 2.0, 9.0, 7.0),
            b(2, 20.0, 20.0, 31.5, 31.9),
            b(1, 3.0, 3.0, 3.0, 8.0),
        ],
        vec![b(3, 0.0, 0.0, 4.0, 4.0), b(7, 0.0, 0.0, 8.0, 8.0)],
    ];
    let cells = centre_cells(&boxes, 4, (8, 8), 4.0);
    assert_eq!(cells, vec![[0, 1, 1, 0], [0, 6, 6, 2], [1, 0, 0, 3]]);
    let t = build_targets(&boxes, 4, (8, 8), 4.0, Device::Cpu);
    for [f, y, x, c] in cells {
        let v =
            t.hm.get(f as i64)
                .get(c as i64)
                .get(y as i64)
                .get(x as i64)
                .double_value(&[]);
        assert_eq!(v, 1.0, "cell {f} {y} {x} class {c}");
    }
}

/// With the term on, the same pair from the same start ends with the intermediate's latents
/// at the pseudo boxes' centres nearer the generator's prototypes (a lower `L_feat` on the
/// training frames) than without it, and layers below the heads end elsewhere.
#[test]
fn feature_term_moves_the_extractor_toward_the_prototypes() {
    let _serial = crate::serial();
    tch::set_num_threads(1);
    let (fs, teacher, labels) = labelled_frames();
    let rgb: Vec<&[u8]> = fs.iter().map(|f| f.rgb.as_slice()).collect();
    let counts = class_counts(&labels, 4);
    let total: usize = counts.iter().sum();
    assert!(total > 0, "the teacher gives boxes");
    let prior: Vec<f64> = counts.iter().map(|&c| c as f64 / total as f64).collect();
    // The latents' scale the generator can be held to: the mean norm at the boxes' centres,
    // against the latents read one cell at a time.
    {
        let _g = tch::no_grad_guard();
        let keep = head_relu(&teacher);
        let (_, f) = teacher
            .forward_features(&teacher.batch_from_rgb(&rgb), false, keep)
            .unwrap();
        let grid = (f.size()[2] as usize, f.size()[3] as usize);
        let cells = centre_cells(&pseudo_boxes(&labels), 4, grid, teacher.stride);
        let want = cells
            .iter()
            .map(|&[b, y, x, _]| {
                let v = f.get(b as i64).select(1, y as i64).select(1, x as i64);
                v.square().sum(Kind::Double).double_value(&[]).sqrt()
            })
            .sum::<f64>()
            / cells.len() as f64;
        let got = box_latent_norm(&teacher, &fs, &labels).unwrap().unwrap();
        assert!((got - want).abs() < 1e-5 * want, "{got} against {want}");
        let none: Vec<_> = labels
            .iter()
            .map(|l| nestevo_couple::label::Labelled {
                boxes: Vec::new(),
                ..l.clone()
            })
            .collect();
        assert_eq!(box_latent_norm(&teacher, &fs, &none).unwrap(), None);
        let e = box_latent_norm(&teacher, &fs[1..], &labels).unwrap_err();
        assert!(e.to_string().contains("7 frames and 8 labels"), "{e}");
    }
    // The generator learns against another model's head, so its prototypes are not what the
    // intermediate already has.
    let other = tiny(9);
    let g = trained_generator(&other, &counts, 30);
    let run = |feature: f64| {
        let (mut local, mut mid) = (tiny(4), copy_model(&teacher, "mid").unwrap());
        let r = train_pair(
            &mut local,
            &mut mid,
            &fs,
            &labels,
            Some((&g, prior.as_slice())),
            &PairConfig {
                steps: 30,
                lr: 1e-3,
                samples: 4,
                feature,
                ..pair_config("feature test")
            },
        )
        .unwrap();
        (mid, r)
    };
    let ((without, r0), (with, r1)) = (run(0.0), run(5.0));
    // The report carries the generator's terms: the samples' cross-entropy in both runs, the
    // feature term and the latents' scale only where the term is on; the feature term falls.
    for r in [&r0, &r1] {
        let (a, b) = r.sample_ce.unwrap();
        assert!(
            a.is_finite() && b.is_finite() && a >= 0.0 && b >= 0.0,
            "{r:?}"
        );
    }
    assert!(r0.feature.is_none() && r0.latent_norm.is_none(), "{r0:?}");
    let (f0, f1) = r1.feature.unwrap();
    assert!(f1 < f0, "the feature term falls: {r1:?}");
    assert!(r1.latent_norm.unwrap() > 0.0, "{r1:?}");
    let (protos, known) = prototypes(&g, &prior);
    let keep = head_relu(&without);
    let loss = |m: &nestevo_train::detector::Detector| {
        let _g = tch::no_grad_guard();
        let x = m.batch_from_rgb(&rgb);
        let (_, f) = m.forward_features(&x, false, keep).unwrap();
        let grid = (f.size()[2] as usize, f.size()[3] as usize);
        let cells = centre_cells(&pseudo_boxes(&labels), 4, grid, m.stride);
        feature_loss(&f, &cells, &protos, &known)
            .unwrap()
            .double_value(&[])
    };
    let (l0, l1) = (loss(&without), loss(&with));
    assert!(l1 < l0, "L_feat with the term {l1} against {l0} without");
    let first_conv = |m: &nestevo_train::detector::Detector| {
        let v = m.vs.variables();
        let name = format!("{}.weight", m.desc.layers[0].name);
        v[&name].copy()
    };
    let moved = (first_conv(&with) - first_conv(&without))
        .abs()
        .sum(Kind::Double)
        .double_value(&[]);
    assert!(moved > 0.0, "the first layer differs");
}
