#![cfg(feature = "torch")]
//! The LibTorch parts of the evolution system on tiny models: FedAvg of detectors, the
//! Eq. 14-15 losses against hand-computed values, the generator, and the labeller.

use nestevo_couple::label::{LabelRequest, Labeller};
use nestevo_data::{Stream, StreamId};
use nestevo_evolve::fedavg::fedavg_detectors;
use nestevo_evolve::generator::{train_generator, GenConfig, Generator, Head};
use nestevo_evolve::labeller::{feature_stats, TorchLabeller};
use nestevo_evolve::mutual::{class_kl, heatmap_kl, mutual_losses};
use nestevo_train::prune::prune;
use tch::{Device, Kind, Tensor};

use crate::common;
use common::tiny;

/// FedAvg of two detectors weighted 1:3 by frame counts gives 0.25 a + 0.75 b for every
/// tensor, batch-norm running statistics included; M1 and M2 of one base are refused with
/// the tensor whose shapes differ.
#[test]
fn fedavg_of_detectors_is_exact_and_refuses_pruned_pairs() {
    let _serial = crate::serial();
    let (a, b) = (tiny(1), tiny(2));
    let m = fedavg_detectors(&[(&a, 10), (&b, 30)], "avg").unwrap();
    assert_eq!(m.desc.name, "avg");
    let (va, vb, vm) = (a.vs.variables(), b.vs.variables(), m.vs.variables());
    assert_eq!(vm.len(), va.len());
    assert!(vm.keys().any(|k| k.ends_with("running_var")));
    for (k, t) in &vm {
        let want = (va[k].to_kind(Kind::Double) * 0.25 + vb[k].to_kind(Kind::Double) * 0.75)
            .to_kind(Kind::Float);
        let diff = (t - want).abs().max().double_value(&[]);
        assert_eq!(diff, 0.0, "{k}");
    }
    let m1 = prune(&a, 0.3, "M1").unwrap();
    let m2 = prune(&a, 0.5, "M2").unwrap();
    let e = fedavg_detectors(&[(&m1, 1), (&m2, 1)], "x")
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("`head.weight`") && e.contains("M2") && e.contains("shape"),
        "{e}"
    );
}

fn bern_kl(p: f64, q: f64) -> f64 {
    p * (p / q).ln() + (1.0 - p) * ((1.0 - p) / (1.0 - q)).ln()
}

fn sig(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Eq. 14-15 against hand-computed values on a 1x2 heat-map of one class, and no gradient
/// from one model's loss reaches the other model's outputs.
#[test]
fn mutual_learning_losses_match_hand_values() {
    let _serial = crate::serial();
    let local = Tensor::from_slice(&[0.0f32, 1.0])
        .reshape([1, 1, 1, 2])
        .set_requires_grad(true);
    let mid = Tensor::from_slice(&[2.0f32, -1.0])
        .reshape([1, 1, 1, 2])
        .set_requires_grad(true);
    let (q, p) = ([sig(0.0), sig(1.0)], [sig(2.0), sig(-1.0)]);
    let kl_mid_local = (bern_kl(p[0], q[0]) + bern_kl(p[1], q[1])) / 2.0;
    let kl_local_mid = (bern_kl(q[0], p[0]) + bern_kl(q[1], p[1])) / 2.0;
    let got = heatmap_kl(&mid, &local).double_value(&[]);
    assert!((got - kl_mid_local).abs() < 1e-6, "{got} vs {kl_mid_local}");
    let (lc_local, lc_mid) = (Tensor::from(2.0f32), Tensor::from(1.0f32));
    let (l_local, l_mid) = mutual_losses(&local, &mid, &lc_local, &lc_mid, 0.3, 0.6);
    let want_local = 0.3 * 2.0 + 0.7 * kl_mid_local;
    let want_mid = 0.6 * 1.0 + 0.4 * kl_local_mid;
    assert!((l_local.double_value(&[]) - want_local).abs() < 1e-6);
    assert!((l_mid.double_value(&[]) - want_mid).abs() < 1e-6);
    l_local.backward();
    assert!(!mid.grad().defined() || mid.grad().abs().sum(Kind::Float).double_value(&[]) == 0.0);
    // d/dq of KL(p || sigmoid(q)) per cell is (sigmoid(q) - p) / cells.
    let g = Vec::<f32>::try_from(local.grad().reshape(-1)).unwrap();
    for k in 0..2 {
        let want = 0.7 * (q[k] - p[k]) / 2.0;
        assert!((g[k] as f64 - want).abs() < 1e-6, "{g:?}");
    }
    // The class KL on generated samples: softmax distributions.
    let a = Tensor::from_slice(&[1.0f32, 0.0, -1.0]).reshape([1, 3]);
    let b = Tensor::from_slice(&[0.0f32, 0.0, 0.0]).reshape([1, 3]);
    let z: f64 = [1.0f64, 0.0, -1.0].iter().map(|x| x.exp()).sum();
    let pa: Vec<f64> = [1.0f64, 0.0, -1.0].iter().map(|x| x.exp() / z).collect();
    let want: f64 = pa.iter().map(|p| p * (p / (1.0 / 3.0)).ln()).sum();
    assert!((class_kl(&a, &b).double_value(&[]) - want).abs() < 1e-6);
}

/// The generator's loss falls and each of two intermediates' heads (a head and a perturbed
/// copy, as intermediates start from one global model) classifies at least 90 % of its
/// samples as their labels.
#[test]
fn generator_learns_samples_the_heads_classify_as_their_labels() {
    let _serial = crate::serial();
    tch::manual_seed(3);
    let w = Tensor::randn([4, 16], (Kind::Float, Device::Cpu));
    let heads = vec![
        Head {
            w: w.copy(),
            b: Tensor::zeros([4], (Kind::Float, Device::Cpu)),
        },
        Head {
            w: &w + Tensor::randn([4, 16], (Kind::Float, Device::Cpu)) * 0.3,
            b: Tensor::zeros([4], (Kind::Float, Device::Cpu)),
        },
    ];
    let mut g = Generator::new(8, 32, 16, 4, Device::Cpu);
    let cfg = GenConfig {
        steps: 200,
        batch: 64,
        lr: 1e-2,
        diversity: 1.0,
        seed: 5,
    };
    let r = train_generator(&mut g, &heads, &[vec![10, 5, 0, 3], vec![2, 5, 7, 3]], &cfg).unwrap();
    assert!(r.last_loss < 0.5 * r.first_loss, "{r:?}");
    for a in &r.accuracy {
        assert!(*a >= 0.9, "{r:?}");
    }
    // Samples differ with the noise (the diversity term keeps them apart).
    let y = Tensor::from_slice(&[1i64; 8]);
    let (_, z) = g.sample(&y, false);
    let spread = z
        .std_dim([0i64].as_slice(), true, false)
        .mean(Kind::Float)
        .double_value(&[]);
    assert!(spread > 1e-3, "{spread}");
    // A head of another latent width is refused.
    let narrow = Head {
        w: Tensor::zeros([4, 5], (Kind::Float, Device::Cpu)),
        b: Tensor::zeros([4], (Kind::Float, Device::Cpu)),
    };
    assert!(train_generator(&mut g, &[narrow], &[vec![1, 1, 1, 1]], &cfg).is_err());
}

/// Unbounded, the generator satisfies the heads by inflating its samples, and the heads'
/// cross-entropy on them is near 0; scaled to a fixed norm (`with_norm`) every sample has that
/// norm, the heads still classify most of them as their labels, and their cross-entropy stays
/// well above the unbounded generator's.
#[test]
fn generator_with_a_norm_keeps_its_samples_at_that_scale() {
    let _serial = crate::serial();
    tch::manual_seed(3);
    let opts = (Kind::Float, Device::Cpu);
    let heads = vec![Head {
        w: Tensor::randn([4, 16], opts),
        b: Tensor::zeros([4], opts),
    }];
    let cfg = GenConfig {
        steps: 300,
        batch: 64,
        lr: 1e-2,
        diversity: 1.0,
        seed: 5,
    };
    let counts = [vec![10, 5, 4, 3]];
    let y = Tensor::from_slice(&[0i64, 1, 2, 3, 0, 1, 2, 3]);
    let run = |g: &mut Generator| {
        let r = train_generator(g, &heads, &counts, &cfg).unwrap();
        let _ng = tch::no_grad_guard();
        let (_, z) = g.sample(&y, false);
        let ce = heads[0]
            .logits(&z)
            .cross_entropy_for_logits(&y)
            .double_value(&[]);
        (r, z, ce)
    };
    let (free, _, ce_free) = run(&mut Generator::new(8, 32, 16, 4, Device::Cpu));
    for bad in [0.0, -1.0, f64::NAN] {
        let e = Generator::new(8, 32, 16, 4, Device::Cpu).with_norm(bad);
        assert!(e.is_err_and(|e| e.to_string().contains("above 0")), "{bad}");
    }
    let mut g = Generator::new(8, 32, 16, 4, Device::Cpu)
        .with_norm(2.0)
        .unwrap();
    let (held, z, ce_held) = run(&mut g);
    let norms = z
        .square()
        .sum_dim_intlist([1i64].as_slice(), false, Kind::Float)
        .sqrt();
    for i in 0..8 {
        let n = norms.double_value(&[i]);
        assert!((n - 2.0).abs() < 1e-4, "sample {i}: norm {n}");
    }
    assert!(free.latent_norm > 4.0, "unbounded samples grow: {free:?}");
    assert!((held.latent_norm - 2.0).abs() < 1e-4, "{held:?}");
    assert!(held.accuracy[0] >= 0.75, "{held:?}");
    assert!(ce_held > 10.0 * ce_free, "{ce_held} against {ce_free}");
}

/// The LibTorch labeller returns per frame the boxes above the threshold (best first), the
/// three soft outputs on the head grid and the named layer's features; the drift statistics
/// pool one vector per box; an unknown layer is a clear error.
#[test]
fn labeller_gives_boxes_soft_outputs_and_features() {
    let _serial = crate::serial();
    let m = tiny(4);
    let st = Stream::new(StreamId::A, 1).with_size(16, 16);
    let frames: Vec<_> = (0..5).map(|i| st.frame(i * 7)).collect();
    let lab = TorchLabeller::new(&m);
    let req = LabelRequest {
        min_score: 0.05,
        feature_layer: Some("head_relu".into()),
    };
    let out = lab.label(&frames, &req).unwrap();
    assert_eq!(out.len(), 5);
    let mut boxes = 0;
    for (l, f) in out.iter().zip(&frames) {
        assert_eq!(l.frame, f.index);
        assert_eq!(l.soft.hm.dim(), (4, 4, 4));
        assert_eq!(l.soft.wh.dim(), (2, 4, 4));
        assert_eq!(l.soft.stride, 4.0);
        let feat = l.features.as_ref().unwrap();
        assert_eq!((feat.data.dim(), feat.stride), ((8, 4, 4), 4.0));
        assert!(feat.data.iter().all(|&v| v >= 0.0));
        assert!(l.boxes.windows(2).all(|w| w[0].score >= w[1].score));
        assert!(l.boxes.iter().all(|b| b.score >= 0.05));
        boxes += l.boxes.len();
    }
    assert!(boxes > 0);
    let s = feature_stats(&out, 4).unwrap();
    assert_eq!(
        (s.boxes(), s.dim, s.layer.as_str()),
        (boxes, 8, "head_relu")
    );
    let bad = LabelRequest {
        min_score: 0.05,
        feature_layer: Some("nope".into()),
    };
    let e = lab.label(&frames, &bad).unwrap_err().to_string();
    assert!(e.contains("nope") && e.contains("head_relu"), "{e}");
}
