//! The trainer's noise on the weights the chip holds against the simulator's draw: equal in
//! distribution on a layer's folded weights and on its outputs (two-sample Kolmogorov-Smirnov
//! at fixed seeds), and the same test refusing deliberately wrong laws (the raw-weight law, a
//! doubled mu), so that a pass means something. Also the fold rule and the eval-mode identity
//! conv + batch-norm(w + delta_raw) = folded conv(w_f + delta_f).

use nestevo_cim::network::float::BN_EPS;
use nestevo_cim::noise::perturb_f32;
use nestevo_model::parse_model;
use nestevo_train::detector::{fold_targets, Detector};
use nestevo_train::noise::{NoiseSite, WeightNoise};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor};

/// Two-sample Kolmogorov-Smirnov: the statistic D = sup |F_a - F_b| and its asymptotic p-value
/// Q(sqrt(n_e) D) with n_e = n m / (n + m), Q(l) = 2 sum_k (-1)^(k-1) exp(-2 k^2 l^2).
pub(crate) fn ks(a: &[f64], b: &[f64]) -> (f64, f64) {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (n, m) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0f64);
    while i < a.len() && j < b.len() {
        // Step past every copy of the smaller value on both sides (ties move together).
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / n - j as f64 / m).abs());
    }
    let l = (n * m / (n + m)).sqrt() * d;
    let mut q = 0.0;
    for k in 1..=100 {
        let t = 2.0 * (-1f64).powi(k - 1) * (-2.0 * (k as f64 * l).powi(2)).exp();
        q += t;
        if t.abs() < 1e-12 {
            break;
        }
    }
    (d, q.clamp(0.0, 1.0))
}

#[test]
fn ks_by_hand() {
    let _serial = crate::serial();
    // Identical samples: D = 0; disjoint: D = 1.
    assert_eq!(ks(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]).0, 0.0);
    assert_eq!(ks(&[1.0, 2.0], &[3.0, 4.0]).0, 1.0);
    // {1,2,3,4} against {3,4,5,6}: after 2, F_a = 0.5 and F_b = 0.
    assert!((ks(&[1.0, 2.0, 3.0, 4.0], &[3.0, 4.0, 5.0, 6.0]).0 - 0.5).abs() < 1e-12);
    // The asymptotic p of lambda = 1.36 is 0.05 (the classic table).
    let n = 20_000;
    let a: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let shift = (1.36 * (2.0 / n as f64).sqrt() * n as f64).round();
    let b: Vec<f64> = (0..n).map(|i| i as f64 + shift).collect();
    let p = ks(&a, &b).1;
    assert!((p - 0.05).abs() < 0.003, "p {p}");
}

/// One conv layer and the batch-norm folded into it, with channel scales far apart (what makes
/// the raw-weight law a different perturbation).
struct Layer {
    w: Tensor,
    gamma: Tensor,
    beta: Tensor,
    mean: Tensor,
    var: Tensor,
}

const OUT: i64 = 32;
const IN: i64 = 16;

fn layer(seed: u64) -> Layer {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let mut v = |n: i64, lo: f64, hi: f64| -> Tensor {
        let x: Vec<f32> = (0..n).map(|_| r.gen_range(lo..hi) as f32).collect();
        Tensor::from_slice(&x)
    };
    let w = v(OUT * IN * 9, -0.3, 0.3).view([OUT, IN, 3, 3]);
    // Log-uniform gamma/sqrt(var) over about two decades, some negative gammas.
    let gamma = v(OUT, -1.5, 1.5).exp() * v(OUT, -1.0, 1.0).sign();
    let var = v(OUT, -2.0, 2.0).exp();
    Layer {
        w,
        gamma,
        beta: v(OUT, -0.5, 0.5),
        mean: v(OUT, -0.2, 0.2),
        var,
    }
}

impl Layer {
    fn scale(&self) -> Tensor {
        &self.gamma / (&self.var + BN_EPS as f64).sqrt()
    }
    fn folded(&self) -> Tensor {
        &self.w * self.scale().view([OUT, 1, 1, 1])
    }
    fn folded_bias(&self) -> Tensor {
        &self.beta - &self.mean * self.scale()
    }
    /// The simulator's draw: Eq. 18-20 on the folded weights (one group, the layout the
    /// simulator programs: [K, N], K = (channel, row, column)), the change in [O, I, 3, 3].
    fn sim_delta(&self, mu: f64, seed: u64) -> Tensor {
        let wf = self.folded().view([OUT, -1]).transpose(0, 1).contiguous();
        let clean: Vec<f32> = Vec::try_from(wf.view([-1])).unwrap();
        let mut noisy = clean.clone();
        perturb_f32(&mut noisy, mu, seed);
        let d: Vec<f32> = noisy.iter().zip(&clean).map(|(a, b)| a - b).collect();
        Tensor::from_slice(&d)
            .view([-1, OUT])
            .transpose(0, 1)
            .contiguous()
            .view([OUT, IN, 3, 3])
    }
    /// The trainer's draw at `site`, as the change of the folded weight it makes.
    fn trainer_delta(&self, n: WeightNoise) -> Tensor {
        let s = self.scale();
        match n.site {
            NoiseSite::Folded | NoiseSite::Cell => n.chip_delta(&self.w, Some(&s), 1),
            NoiseSite::Raw => (n.apply(&self.w) - &self.w) * s.view([OUT, 1, 1, 1]),
        }
    }
    /// conv + batch-norm in eval mode with the raw weight `w`, on x.
    fn conv_bn(&self, w: &Tensor, x: &Tensor) -> Tensor {
        x.conv2d(w, None::<Tensor>, [1, 1], [0, 0], [1, 1], 1)
            .batch_norm(
                Some(&self.gamma),
                Some(&self.beta),
                Some(&self.mean),
                Some(&self.var),
                false,
                0.1,
                BN_EPS as f64,
                false,
            )
    }
    /// The simulator's float view of the folded layer with folded weight `wf`.
    fn folded_conv(&self, wf: &Tensor, x: &Tensor) -> Tensor {
        x.conv2d(wf, Some(self.folded_bias()), [1, 1], [0, 0], [1, 1], 1)
    }
}

fn values(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(t.to_kind(Kind::Double).view([-1])).unwrap()
}

const MU: f64 = 0.02;

/// Weight level: the folded perturbation of one layer, 4608 values a side.
#[test]
fn folded_draw_matches_the_simulator_on_weights() {
    let _serial = crate::serial();
    let l = layer(11);
    tch::manual_seed(7);
    let sim = values(&l.sim_delta(MU, 7));
    let good = values(&l.trainer_delta(WeightNoise::folded(MU).unwrap()));
    let (d, p) = ks(&good, &sim);
    eprintln!("weights, folded law vs simulator: D {d:.4}, p {p:.3}");
    assert!(p > 0.01, "folded law vs simulator: D {d:.4}, p {p:.3e}");
    // The old law on the raw weights, and a doubled mu: the same test tells them apart.
    let raw = values(&l.trainer_delta(WeightNoise::new(MU).unwrap()));
    let (d, p) = ks(&raw, &sim);
    eprintln!("raw-weight law: D {d:.4}, p {p:.3e}");
    assert!(
        p < 1e-6,
        "raw-weight law passed as the chip's: D {d:.4}, p {p:.3e}"
    );
    let double = values(&l.trainer_delta(WeightNoise::folded(2.0 * MU).unwrap()));
    let (d, p) = ks(&double, &sim);
    eprintln!("doubled mu: D {d:.4}, p {p:.3e}");
    assert!(
        p < 1e-6,
        "doubled mu passed as the chip's: D {d:.4}, p {p:.3e}"
    );
}

/// Layer outputs: the eval-mode conv + batch-norm under the trainer's noise against the folded
/// conv under the simulator's noise, residuals to the clean output. One 3x3 patch per draw (a
/// single output position, so that the 32 channels of a draw use disjoint weights and every
/// sample is independent), 150 draws a side.
#[test]
fn folded_draw_matches_the_simulator_on_outputs() {
    let _serial = crate::serial();
    let l = layer(12);
    tch::manual_seed(8);
    let draws = 150u64;
    let mut x_rng = ChaCha8Rng::seed_from_u64(3);
    let xs: Vec<Tensor> = (0..draws)
        .map(|_| {
            let v: Vec<f32> = (0..IN * 9).map(|_| x_rng.gen_range(0.0..1.0)).collect();
            Tensor::from_slice(&v).view([1, IN, 3, 3])
        })
        .collect();
    let residuals = |noisy: &dyn Fn(u64, &Tensor) -> Tensor| -> Vec<f64> {
        (0..draws)
            .flat_map(|d| {
                let x = &xs[d as usize];
                values(&(noisy(d, x) - l.folded_conv(&l.folded(), x)))
            })
            .collect()
    };
    let sim = residuals(&|d, x| l.folded_conv(&(l.folded() + l.sim_delta(MU, 1000 + d)), x));
    let s = l.scale();
    // What the detector computes: a folded conv's change added after the batch-norm, the
    // raw law on the conv weight.
    let trainer = |n: WeightNoise, x: &Tensor| match n.site {
        NoiseSite::Folded | NoiseSite::Cell => {
            let d = n.chip_delta(&l.w, Some(&s), 1);
            l.conv_bn(&l.w, x) + x.conv2d(&d, None::<Tensor>, [1, 1], [0, 0], [1, 1], 1)
        }
        NoiseSite::Raw => l.conv_bn(&n.apply(&l.w), x),
    };
    let good = residuals(&|_, x| trainer(WeightNoise::folded(MU).unwrap(), x));
    let (d, p) = ks(&good, &sim);
    eprintln!("outputs, folded law vs simulator: D {d:.4}, p {p:.3}");
    assert!(
        p > 0.01,
        "outputs, folded law vs simulator: D {d:.4}, p {p:.3e}"
    );
    let raw = residuals(&|_, x| trainer(WeightNoise::new(MU).unwrap(), x));
    let (d, p) = ks(&raw, &sim);
    eprintln!("outputs, raw-weight law: D {d:.4}, p {p:.3e}");
    assert!(
        p < 1e-6,
        "outputs, raw-weight law passed: D {d:.4}, p {p:.3e}"
    );
    let double = residuals(&|_, x| trainer(WeightNoise::folded(2.0 * MU).unwrap(), x));
    let (d, p) = ks(&double, &sim);
    eprintln!("outputs, doubled mu: D {d:.4}, p {p:.3e}");
    assert!(p < 1e-6, "outputs, doubled mu passed: D {d:.4}, p {p:.3e}");
}

/// Groups draw with their own ranges (the simulator programs one matrix per group): a group of
/// tiny weights gets tiny noise.
#[test]
fn groups_have_their_own_range() {
    let _serial = crate::serial();
    let big = Tensor::rand([4, 1, 3, 3], (Kind::Float, Device::Cpu)) - 0.5;
    let w = Tensor::cat(&[&big, &(&big * 1e-3)], 0);
    tch::manual_seed(5);
    let d = WeightNoise::folded(0.1).unwrap().chip_delta(&w, None, 2);
    let small = d.narrow(0, 4, 4).abs().max().double_value(&[]);
    assert!(
        small < 1e-3,
        "the small group's noise {small} came from the large range"
    );
    assert!(d.narrow(0, 0, 4).abs().max().double_value(&[]) > 1e-3);
}

/// The straight-through quantisation lands on the max-abs grid of the simulator
/// (`cim::quant::WeightQuant`).
#[test]
fn weight_bits_round_to_the_simulators_grid() {
    let _serial = crate::serial();
    let w = Tensor::rand([8, 4, 3, 3], (Kind::Float, Device::Cpu)) - 0.5;
    let n = WeightNoise::folded(0.0)
        .unwrap()
        .with_weight_bits(4)
        .unwrap();
    let q = &w + n.chip_delta(&w, None, 1);
    let flat: Vec<f32> = Vec::try_from(w.detach().view([-1])).unwrap();
    let wq = nestevo_cim::WeightQuant::max_abs(&flat, 4);
    let want: Vec<f32> = flat
        .iter()
        .map(|&x| ((x / wq.scale).round().clamp(-8.0, 7.0)) * wq.scale)
        .collect();
    let got: Vec<f32> = Vec::try_from(q.detach().view([-1])).unwrap();
    for (a, b) in got.iter().zip(&want) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
    assert!(WeightNoise::new(0.1).unwrap().with_weight_bits(8).is_err());
    assert!(WeightNoise::folded(0.1)
        .unwrap()
        .with_weight_bits(1)
        .is_err());
}

const FOLD: &str = r#"
name = "fold"
input = [3, 16, 16]
outputs = ["hm", "wh", "off"]
[[layers]]
name = "c1"
op = "conv"
out_channels = 8
kernel = 3
stride = 2
padding = 1
[[layers]]
name = "bn1"
op = "bn"
[[layers]]
name = "r1"
op = "relu"
[[layers]]
name = "c2"
op = "conv"
out_channels = 8
kernel = 3
stride = 2
padding = 1
[[layers]]
name = "bn2"
op = "bn"
[[layers]]
name = "skip"
op = "add"
inputs = ["bn2", "c2"]
[[layers]]
name = "hm"
op = "conv"
out_channels = 4
kernel = 1
[[layers]]
name = "wh"
op = "conv"
inputs = ["skip"]
out_channels = 2
kernel = 1
[[layers]]
name = "off"
op = "conv"
inputs = ["skip"]
out_channels = 2
kernel = 1
"#;

/// The simulator's fold rule: c1 feeds only bn1 (folded); c2 feeds bn2 and the add (not
/// folded); the heads feed nothing but the outputs.
#[test]
fn fold_rule_is_the_simulators() {
    let _serial = crate::serial();
    let desc = parse_model(FOLD, "fold.toml").unwrap();
    let inputs: Vec<_> = desc
        .walk()
        .unwrap()
        .iter()
        .map(|s| s.inputs.clone())
        .collect();
    let f = fold_targets(&desc, &inputs);
    assert_eq!(f[0], Some(1));
    assert!(
        f.iter().enumerate().all(|(i, t)| i == 0 || t.is_none()),
        "{f:?}"
    );
    let m = Detector::new(&desc, 4, Device::Cpu).unwrap();
    assert_eq!(m.folded_bn(0), Some(1));
    assert_eq!(m.folded_bn(3), None);
}

fn fold_model() -> (Detector, Tensor, Tensor) {
    let desc = parse_model(FOLD, "fold.toml").unwrap();
    let m = Detector::new(&desc, 4, Device::Cpu).unwrap();
    let gamma = Tensor::from_slice(&[0.1f32, 0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0]);
    let var = Tensor::from_slice(&[4.0f32, 1.0, 0.5, 2.0, 0.1, 1.0, 3.0, 0.3]);
    let vars = m.vs.variables();
    tch::no_grad(|| {
        vars["bn1.weight"].shallow_clone().copy_(&gamma);
        vars["bn1.running_var"].shallow_clone().copy_(&var);
        vars["bn1.running_mean"]
            .shallow_clone()
            .copy_(&(Tensor::rand([8], (Kind::Float, Device::Cpu)) - 0.5));
        vars["bn1.bias"]
            .shallow_clone()
            .copy_(&(Tensor::rand([8], (Kind::Float, Device::Cpu)) - 0.5));
    });
    (m, gamma, var)
}

/// On a whole detector, a fixed draw at the folded site changes c1's folded weight with
/// sigma = mu x its range, within its range, the same draw for the same seed; in eval mode
/// the batch-norm's output is the simulator's folded conv on w_f + delta_f.
#[test]
fn detector_fixed_draw_is_the_folded_conv() {
    let _serial = crate::serial();
    tch::manual_seed(21);
    let (mut m, gamma, var) = fold_model();
    let vars = m.vs.variables();
    let scale = (&gamma / (&var + BN_EPS as f64).sqrt()).view([8, 1, 1, 1]);
    let w = vars["c1.weight"].detach();
    let wf = &w * &scale;
    let range = (wf.max() - wf.min()).double_value(&[]);
    let mu = 0.05;
    m.noise = Some(WeightNoise::folded(mu).unwrap());
    m.fix_noise_draw(3);
    assert!(m.noise.is_none());
    assert!(vars["c1.weight"].equal(&w), "the clean weight stays");
    let df = m.fixed_noise(0).unwrap().shallow_clone();
    let sd = df.std(true).double_value(&[]);
    assert!(
        (sd / (mu * range) - 1.0).abs() < 0.2,
        "sd {sd} against mu x range {}",
        mu * range
    );
    let noisy = &wf + &df;
    let tol = 1e-5 * range;
    assert!(noisy.min().double_value(&[]) >= wf.min().double_value(&[]) - tol);
    assert!(noisy.max().double_value(&[]) <= wf.max().double_value(&[]) + tol);
    // bn1's eval output against the folded conv, b_f = beta + (b - mean) x scale.
    let x = Tensor::rand([2, 3, 16, 16], (Kind::Float, Device::Cpu));
    let (_, got) = m.forward_features(&x, false, 1).unwrap();
    let b = match vars.get("c1.bias") {
        Some(b) => b.detach(),
        None => Tensor::zeros([8], (Kind::Float, Device::Cpu)),
    };
    let bf = vars["bn1.bias"].detach() + (b - vars["bn1.running_mean"].detach()) * scale.view([8]);
    let want = x.conv2d(&noisy, Some(bf), [2, 2], [1, 1], [1, 1], 1);
    let err = (&got - &want).abs().max().double_value(&[]);
    assert!(
        err < 1e-4 * want.abs().max().double_value(&[]).max(1.0),
        "max |diff| {err}"
    );
    // The same seed gives the same draw.
    let (mut m2, _, _) = fold_model();
    m2.vs.copy(&m.vs).unwrap();
    m2.noise = Some(WeightNoise::folded(mu).unwrap());
    m2.fix_noise_draw(3);
    let same = (m2.fixed_noise(0).unwrap() - &df)
        .abs()
        .max()
        .double_value(&[]);
    assert_eq!(same, 0.0, "the same seed drew differently");
}

/// A channel whose gamma is 0 or tiny holds a (near) zero folded weight; the chip still adds
/// its noise there. Training with the folded law keeps every batch-norm statistic finite (a
/// change mapped back onto the raw weight, delta_f / scale, overflowed the running variances).
#[test]
fn tiny_gamma_trains_finite() {
    let _serial = crate::serial();
    tch::manual_seed(22);
    let (mut m, _, _) = fold_model();
    let vars = m.vs.variables();
    tch::no_grad(|| {
        vars["bn1.weight"]
            .shallow_clone()
            .copy_(&Tensor::from_slice(&[
                0.0f32, 1e-30, 1e-20, 1.0, 2.0, 1e-12, 8.0, 16.0,
            ]));
    });
    m.noise = Some(WeightNoise::folded(0.05).unwrap());
    let x = Tensor::rand([4, 3, 16, 16], (Kind::Float, Device::Cpu));
    for _ in 0..5 {
        let out = m.forward(&x, true).unwrap();
        out.hm.sum(Kind::Float).backward();
        assert!(out.hm.isfinite().all().int64_value(&[]) == 1);
    }
    for (name, t) in m.vs.variables() {
        assert!(
            t.isfinite().all().int64_value(&[]) == 1,
            "{name} holds a non-finite value"
        );
    }
    // In eval mode the zero-gamma channel's output is its noise alone: not constant.
    let (_, y) = m.forward_features(&x, false, 1).unwrap();
    let c0 = y.narrow(1, 0, 1);
    assert!((c0.max() - c0.min()).double_value(&[]) > 0.0);
}
