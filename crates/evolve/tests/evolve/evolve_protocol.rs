#![cfg(feature = "torch")]
//! What makes co-evolution's comparison and training sound, on tiny models: batch-norm
//! re-estimation against a direct computation of the statistics, the soft per-cell term by
//! hand, mirroring that carries the teacher's outputs with the frame, replicates' seeds, and
//! the pseudo labels' precision and recall.

use nestevo_couple::label::{Labelled, PseudoBox, SoftOutputs};
use nestevo_data::{Frame, GtBox};
use nestevo_evolve::distill::{augment, soft_cells};
use nestevo_evolve::edge::pseudo_quality;
use nestevo_train::loss::HeadOut;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

use crate::common::{small_smoke, tiny};

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().to_kind(Kind::Double).double_value(&[])
}

/// After `reestimate_bn`, each batch-norm layer holds the mean and unbiased variance of its
/// input on the frames, its input computed with the layers before it already re-estimated.
#[test]
fn bn_reestimation_equals_the_statistics_of_its_input() {
    let _serial = crate::serial();
    tch::set_num_threads(1);
    tch::manual_seed(7);
    let m = tiny(2);
    let x = Tensor::rand([12, 3, 16, 16], (Kind::Float, Device::Cpu));
    m.reestimate_bn(&x).unwrap();
    let v = m.vs.variables();
    let stats = |a: &Tensor| {
        (
            a.mean_dim(&[0i64, 2, 3][..], false, Kind::Float),
            a.var_dim(&[0i64, 2, 3][..], true, false),
        )
    };
    let _g = tch::no_grad_guard();
    let c1 = x.conv2d(&v["stem.weight"], None::<Tensor>, [2, 2], [1, 1], [1, 1], 1);
    let (m1, v1) = stats(&c1);
    assert!(max_diff(&m1, &v["stem_bn.running_mean"]) < 1e-5);
    assert!(max_diff(&v1, &v["stem_bn.running_var"]) < 1e-4);
    // The next layer sees the first normalised with its new statistics.
    let bn = |a: &Tensor, name: &str| {
        a.batch_norm(
            Some(&v[&format!("{name}.weight")]),
            Some(&v[&format!("{name}.bias")]),
            Some(&v[&format!("{name}.running_mean")]),
            Some(&v[&format!("{name}.running_var")]),
            false,
            0.1,
            1e-5,
            false,
        )
    };
    let a1 = bn(&c1, "stem_bn").relu();
    let c2 = a1.conv2d(&v["head.weight"], None::<Tensor>, [2, 2], [1, 1], [1, 1], 1);
    let (m2, v2) = stats(&c2);
    assert!(max_diff(&m2, &v["head_bn.running_mean"]) < 1e-5);
    assert!(max_diff(&v2, &v["head_bn.running_var"]) < 1e-4);
}

/// Teacher logits 0 everywhere (probability 1/2: every cell a peak at threshold 0.4), student
/// logits 1: per cell KL = 1/2 ln(1/2 / s) + 1/2 ln(1/2 / (1 - s)), s = sigmoid(1), and the sum
/// over cells divided by the peaks is that value; a student equal to its teacher costs 0.
#[test]
fn soft_cells_by_hand() {
    let _serial = crate::serial();
    let t = Tensor::zeros([1, 4, 3, 3], (Kind::Float, Device::Cpu));
    let s = Tensor::ones([1, 4, 3, 3], (Kind::Float, Device::Cpu));
    let sig = 1.0 / (1.0 + (-1.0f64).exp());
    let kl = 0.5 * (0.5 / sig).ln() + 0.5 * (0.5 / (1.0 - sig)).ln();
    let got = soft_cells(&s, &t, &[0.4]).double_value(&[]);
    assert!((got - kl).abs() < 1e-5, "{got} against {kl}");
    let same = Tensor::randn([2, 4, 5, 5], (Kind::Float, Device::Cpu));
    assert!(soft_cells(&same, &same, &[0.4]).double_value(&[]).abs() < 1e-4);
}

/// Per-class peak thresholds: a class-0 peak of probability 0.5 and a class-1 peak of 0.3.
/// At 0.4 for every class one peak counts; at (0.4, 0.2) both do, which halves the normalised
/// sum; per class at (0.4, 0.4) equals the single threshold exactly. Labels keep each box at
/// its class's threshold.
#[test]
fn per_class_peak_thresholds() {
    let _serial = crate::serial();
    let logit = |p: f64| (p / (1.0 - p)).ln();
    let t = Tensor::full([1, 2, 5, 5], -6.0, (Kind::Float, Device::Cpu));
    let _ = t.get(0).get(0).get(1).get(1).fill_(logit(0.5));
    let _ = t.get(0).get(1).get(3).get(3).fill_(logit(0.3));
    let s = Tensor::zeros([1, 2, 5, 5], (Kind::Float, Device::Cpu));
    let one = soft_cells(&s, &t, &[0.4]).double_value(&[]);
    let two = soft_cells(&s, &t, &[0.4, 0.2]).double_value(&[]);
    assert!((one - 2.0 * two).abs() < 1e-6 * one.abs(), "{one} {two}");
    assert_eq!(soft_cells(&s, &t, &[0.4, 0.4]).double_value(&[]), one);
    let p = t.sigmoid();
    let n = |th: &[f64]| {
        nestevo_train::loss::peaks(&p, th)
            .sum(Kind::Int64)
            .int64_value(&[])
    };
    assert_eq!(
        (n(&[0.4]), n(&[0.4, 0.2]), n(&[0.6, 0.2]), n(&[0.2])),
        (1, 2, 1, 2)
    );

    use nestevo_couple::label::{Labelled, PseudoBox, SoftOutputs};
    let b = |class, score| PseudoBox {
        class,
        score,
        x0: 0.0,
        y0: 0.0,
        x1: 1.0,
        y1: 1.0,
    };
    let mut labels = vec![Labelled {
        frame: 0,
        boxes: vec![b(0, 0.9), b(1, 0.5), b(0, 0.35), b(1, 0.3)],
        soft: SoftOutputs {
            hm: ndarray::Array3::zeros((0, 0, 0)),
            wh: ndarray::Array3::zeros((0, 0, 0)),
            off: ndarray::Array3::zeros((0, 0, 0)),
            stride: 1.0,
        },
        features: None,
    }];
    nestevo_evolve::edge::per_class(&mut labels, &[0.3, 0.45, 0.5, 0.6]);
    let kept: Vec<(usize, f32)> = labels[0].boxes.iter().map(|x| (x.class, x.score)).collect();
    assert_eq!(kept, vec![(0, 0.9), (1, 0.5), (0, 0.35)]);
}

/// A mirrored frame carries mirrored teacher outputs: heat-map and sizes flipped left-right,
/// the horizontal offset o becoming 1 - o at the mirrored cell; an unmirrored one keeps them.
#[test]
fn augmentation_mirrors_the_teacher_with_the_frame() {
    let _serial = crate::serial();
    let b = 16;
    let x = Tensor::rand([1, 3, 8, 8], (Kind::Float, Device::Cpu)).repeat([b, 1, 1, 1]);
    let hm = Tensor::randn([1, 4, 4, 4], (Kind::Float, Device::Cpu)).repeat([b, 1, 1, 1]);
    let wh = Tensor::rand([1, 2, 4, 4], (Kind::Float, Device::Cpu)).repeat([b, 1, 1, 1]);
    let off = Tensor::rand([1, 2, 4, 4], (Kind::Float, Device::Cpu)).repeat([b, 1, 1, 1]);
    let t = HeadOut {
        hm: hm.shallow_clone(),
        wh: wh.shallow_clone(),
        off: off.shallow_clone(),
    };
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (xa, ta) = augment(&x, t, &mut rng);
    assert_eq!(xa.size(), x.size());
    assert!(xa.min().double_value(&[]) >= 0.0 && xa.max().double_value(&[]) <= 1.0);
    let (mut flipped, mut kept) = (0, 0);
    for i in 0..b {
        let h = ta.hm.get(i);
        if max_diff(&h, &hm.get(i)) < 1e-7 {
            kept += 1;
            assert!(max_diff(&ta.off.get(i), &off.get(i)) < 1e-7);
            assert!(max_diff(&ta.wh.get(i), &wh.get(i)) < 1e-7);
        } else {
            flipped += 1;
            assert!(max_diff(&h, &hm.get(i).flip([2])) < 1e-7);
            assert!(max_diff(&ta.wh.get(i), &wh.get(i).flip([2])) < 1e-7);
            let o = off.get(i).flip([2]);
            assert!(max_diff(&ta.off.get(i).get(0), &(1.0 - o.get(0))) < 1e-6);
            assert!(max_diff(&ta.off.get(i).get(1), &o.get(1)) < 1e-7);
        }
    }
    assert!(flipped > 0 && kept > 0, "{flipped} mirrored, {kept} kept");
}

/// Replicate r moves the run seed by r and every stream seed by 1000 r, from the scoring seeds
/// or, when tuning, from the tuning seeds; a comparison refuses to score on a tuning seed.
#[test]
fn replicates_draw_fresh_seeds_apart_from_tuning() {
    let _serial = crate::serial();
    let e = small_smoke(&[]);
    let r2 = e.replicate(2, false);
    assert_eq!(r2.seed, e.seed + 2);
    for (a, b) in e.terminals.iter().zip(&r2.terminals) {
        assert_eq!(b.stream_seed, a.stream_seed + 2000);
    }
    let t1 = e.replicate(1, true);
    let tune = &e.protocol.tuning_seeds;
    for (k, t) in t1.terminals.iter().enumerate() {
        assert_eq!(t.stream_seed, tune[k % tune.len()] + 1000);
    }
    assert_eq!(e.replicate(0, false), e);
    let bad = nestevo_evolve::config::apply_overrides(
        &e,
        &[format!("terminals.0.stream_seed={}", tune[0])],
        "test",
    )
    .unwrap();
    let msg = bad.check_scoring_seeds("test").unwrap_err().to_string();
    assert!(
        msg.contains("terminals[0].stream_seed") && msg.contains("tuning_seeds"),
        "{msg}"
    );
    assert!(e.check_scoring_seeds("test").is_ok());
}

fn gt(class: usize, x0: f32) -> GtBox {
    GtBox {
        class,
        x0,
        y0: 10.0,
        x1: x0 + 20.0,
        y1: 30.0,
    }
}

fn pseudo(class: usize, x0: f32, score: f32) -> PseudoBox {
    PseudoBox {
        class,
        score,
        x0,
        y0: 10.0,
        x1: x0 + 20.0,
        y1: 30.0,
    }
}

/// Two objects; three pseudo boxes: one exact, one of the wrong class, one duplicate of the
/// exact one (matched once only): precision 1/3, recall 1/2.
#[test]
fn pseudo_label_quality_by_hand() {
    let _serial = crate::serial();
    let frame = Frame {
        width: 96,
        height: 96,
        rgb: vec![0; 96 * 96 * 3],
        boxes: vec![gt(0, 0.0), gt(1, 50.0)],
        index: 0,
        time_s: 0.0,
    };
    let label = Labelled {
        frame: 0,
        boxes: vec![
            pseudo(0, 1.0, 0.9),
            pseudo(2, 50.0, 0.8),
            pseudo(0, 0.0, 0.7),
        ],
        soft: SoftOutputs {
            hm: ndarray::Array3::zeros((4, 1, 1)),
            wh: ndarray::Array3::zeros((2, 1, 1)),
            off: ndarray::Array3::zeros((2, 1, 1)),
            stride: 4.0,
        },
        features: None,
    };
    let (p, r) =
        pseudo_quality(std::slice::from_ref(&frame), std::slice::from_ref(&label)).unwrap();
    assert!(
        (p - 1.0 / 3.0).abs() < 1e-12 && (r - 0.5).abs() < 1e-12,
        "{p} {r}"
    );
    let empty = Frame {
        boxes: vec![],
        ..frame
    };
    assert!(pseudo_quality(&[empty], &[label]).is_none());
}

/// Two heads that disagree on every class (head 0 reads class 0 from latent 0 and class 1 from
/// latent 1, head 1 the other way round). When head 0 holds every box of class 0 and head 1
/// every box of class 1, the weighted ensemble calls a sample of either class by the head
/// that owns it, so both classes' samples must put latent 0 above latent 1; with the ownership
/// swapped, latent 1 above latent 0. The generator follows the class shares, not one head.
#[test]
fn generator_follows_the_class_share_weights() {
    let _serial = crate::serial();
    use nestevo_evolve::generator::{draw_labels, train_generator, GenConfig, Generator, Head};
    tch::set_num_threads(1);
    let eye = |rows: [[f32; 4]; 2]| Tensor::from_slice(&rows.concat()).reshape([2, 4]);
    let heads = || {
        [
            Head {
                w: eye([[4.0, 0.0, 0.0, 0.0], [0.0, 4.0, 0.0, 0.0]]),
                b: Tensor::zeros([2], (Kind::Float, Device::Cpu)),
            },
            Head {
                w: eye([[0.0, 4.0, 0.0, 0.0], [4.0, 0.0, 0.0, 0.0]]),
                b: Tensor::zeros([2], (Kind::Float, Device::Cpu)),
            },
        ]
    };
    let share_latent0 = |counts: [Vec<usize>; 2]| {
        tch::manual_seed(5);
        let mut g = Generator::new(4, 32, 4, 2, Device::Cpu);
        let cfg = GenConfig {
            steps: 300,
            batch: 64,
            lr: 1e-2,
            diversity: 1.0,
            seed: 9,
        };
        train_generator(&mut g, &heads(), &counts, &cfg).unwrap();
        let _g = tch::no_grad_guard();
        (0..2)
            .map(|y| {
                let ys = draw_labels(&[(1 - y) as f64, y as f64], 500, Device::Cpu);
                let z = g.sample(&ys, false).1;
                z.select(1, 0)
                    .gt_tensor(&z.select(1, 1))
                    .to_kind(Kind::Float)
                    .mean(Kind::Float)
                    .double_value(&[])
            })
            .collect::<Vec<f64>>()
    };
    let owned = share_latent0([vec![10, 0], vec![0, 10]]);
    assert!(owned.iter().all(|&s| s >= 0.9), "{owned:?}");
    let swapped = share_latent0([vec![0, 10], vec![10, 0]]);
    assert!(swapped.iter().all(|&s| s <= 0.1), "{swapped:?}");
}
