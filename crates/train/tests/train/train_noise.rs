//! Eq. 18-20 weight noise: spread, clipping, fresh draws, straight-through gradients.

use nestevo_model::parse_model;
use nestevo_train::{detector::Detector, noise::WeightNoise};
use tch::{Kind, Tensor};

fn weights() -> Tensor {
    Tensor::linspace(-1.0, 1.0, 20_000, (Kind::Float, tch::Device::Cpu))
}

#[test]
fn spread_is_mu_times_range() {
    let _serial = crate::serial();
    tch::manual_seed(1);
    let w = weights();
    let mu = 0.05; // sigma = 0.05 * 2 = 0.1
    let d = WeightNoise::new(mu).unwrap().apply(&w) - &w;
    // Away from the ends clipping never acts (5 sigma), so the spread is the plain sigma.
    let mid = d.narrow(0, 5_000, 10_000);
    let std = mid.std(true).double_value(&[]);
    assert!((std - 0.1).abs() < 0.005, "std {std}, want 0.1");
    assert!(mid.mean(Kind::Float).double_value(&[]).abs() < 0.005);
}

#[test]
fn clipping_holds_and_noise_is_redrawn() {
    let _serial = crate::serial();
    tch::manual_seed(2);
    let w = weights() * 0.3 + 0.1; // range [-0.2, 0.4]
    let n = WeightNoise::new(0.5).unwrap();
    let a = n.apply(&w);
    let (lo, hi) = (a.min().double_value(&[]), a.max().double_value(&[]));
    assert!(lo >= -0.2 - 1e-6 && hi <= 0.4 + 1e-6, "{lo} {hi}");
    // With sigma = 0.3 many values land on the bounds.
    let at_bound = a
        .le(-0.2 + 1e-6)
        .logical_or(&a.ge(0.4 - 1e-6))
        .sum(Kind::Int64)
        .int64_value(&[]);
    assert!(at_bound > 2_000, "only {at_bound} clipped");
    let b = n.apply(&w);
    assert!(
        (a - b).abs().max().double_value(&[]) > 0.1,
        "the second forward reused the draw"
    );
    assert!(WeightNoise::new(0.0).unwrap().apply(&w).equal(&w));
    assert!(WeightNoise::new(-0.1).is_err() && WeightNoise::new(f64::NAN).is_err());
}

#[test]
fn gradient_passes_straight_through() {
    let _serial = crate::serial();
    tch::manual_seed(3);
    let w = weights().set_requires_grad(true);
    let c = Tensor::randn([20_000], (Kind::Float, tch::Device::Cpu));
    let loss = (WeightNoise::new(0.2).unwrap().apply(&w) * &c).sum(Kind::Float);
    loss.backward();
    let g = w.grad();
    assert!(
        (g - &c).abs().max().double_value(&[]) < 1e-6,
        "dW'/dW must be the identity"
    );
}

const TINY: &str = r#"
name = "tiny"
input = [3, 16, 16]
outputs = ["hm", "wh", "off"]
[[layers]]
name = "c1"
op = "conv"
out_channels = 8
kernel = 3
stride = 4
padding = 1
[[layers]]
name = "hm"
op = "conv"
out_channels = 4
kernel = 1
[[layers]]
name = "wh"
op = "conv"
inputs = ["c1"]
out_channels = 2
kernel = 1
[[layers]]
name = "off"
op = "conv"
inputs = ["c1"]
out_channels = 2
kernel = 1
"#;

#[test]
fn wrapper_on_a_model_perturbs_each_forward_and_trains_clean_weights() {
    let _serial = crate::serial();
    tch::manual_seed(4);
    let desc = parse_model(TINY, "tiny.toml").unwrap();
    let mut m = Detector::new(&desc, 4, tch::Device::Cpu).unwrap();
    let x = Tensor::rand([2, 3, 16, 16], (Kind::Float, tch::Device::Cpu));
    let clean = m.forward(&x, false).unwrap().hm;
    m.noise = Some(WeightNoise::new(0.1).unwrap());
    let a = m.forward(&x, false).unwrap().hm;
    let b = m.forward(&x, false).unwrap().hm;
    assert!((&a - &clean).abs().max().double_value(&[]) > 1e-3);
    assert!((&a - &b).abs().max().double_value(&[]) > 1e-3);
    a.sum(Kind::Float).backward();
    let vars = m.vs.variables();
    let g = vars["c1.weight"].grad();
    assert!(g.defined() && g.abs().sum(Kind::Float).double_value(&[]) > 0.0);
}
