//! The trainer's cell-level law (`NoiseSite::Cell`) against the simulator's programming of the
//! same weights: the weights the cells hold, decoded from the kernels' conductances, equal in
//! distribution to the trainer's draw (two-sample Kolmogorov-Smirnov), and the test refusing a
//! doubled mu and an unclipped Gaussian of the same sigma. Also its moments by hand: without
//! noise it is the chip's quantisation, with cells away from their limits the variance is
//! (mu cell_max)^2 sum_s 16^s steps^2, and a weight whose upper cells are all at level 0 falls by at most one step.

use crate::train_noise_chip::ks;
use nestevo_kernels::Programmed;
use nestevo_train::noise::WeightNoise;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Kind, Tensor};

const K: usize = 128;
const N: usize = 16;

/// Random weights [K, N] in (-0.5, 0.5), one group; the chip's quantisation step.
fn weights(seed: u64) -> (Vec<f32>, f64) {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let w: Vec<f32> = (0..K * N).map(|_| r.gen_range(-0.5f32..0.5)).collect();
    let m = w.iter().fold(0f32, |a, &x| a.max(x.abs())) as f64;
    (w, m / 32767.0)
}

/// The kernels' programming with cell noise `mu` (flipping off, so each stored level is the
/// weight's own slice), decoded back into the weights the cells hold, minus the clean weights.
fn sim_delta(w: &[f32], step: f64, mu: f64, seed: u64) -> Vec<f64> {
    let spec = nestevo_arch::preset("isaac").unwrap();
    let mut cfg = nestevo_cim::xbar_config(&spec);
    cfg.flip = false;
    let q: Vec<i64> = w
        .iter()
        .map(|&x| (x as f64 / step).round().clamp(-32768.0, 32767.0) as i64)
        .collect();
    let p = Programmed::new(&cfg, &q, K, N)
        .unwrap()
        .program_conductances(mu, seed)
        .unwrap();
    assert_eq!(p.crossbars(), 1, "one crossbar holds the matrix");
    let (g, cw) = p.conductances(0);
    let (levels, cols) = p.levels(0);
    let slices = cfg.slices();
    let cmax = cfg.cell_max() as f64;
    let per_level = (cfg.g_max - cfg.g_min) / cmax;
    let mut out = Vec::with_capacity(K * N);
    for r in 0..K {
        for o in 0..N {
            let mut err = 0.0;
            for s in 0..slices {
                let c = o * slices + s;
                let held = (g[r * cw + c] as f64 - cfg.g_min) / per_level;
                err += (held - levels[r * cols + c] as f64) * 4f64.powi(s as i32);
            }
            out.push((q[r * N + o] as f64 + err) * step - w[r * N + o] as f64);
        }
    }
    out
}

fn trainer_delta(w: &[f32], law: &WeightNoise, seed: u64) -> Vec<f64> {
    tch::manual_seed(seed as i64);
    let t = Tensor::from_slice(w).view([1, -1]);
    let d = law.folded_delta(&t, 1);
    Vec::<f64>::try_from(d.to_kind(Kind::Double).view([-1])).unwrap()
}

#[test]
fn cell_law_equals_the_simulators_cells_in_distribution() {
    let _serial = crate::serial();
    tch::set_num_threads(1);
    let (w, step) = weights(3);
    let mu = 0.02;
    // Several draws a side: 8192 values.
    let sim: Vec<f64> = (0..4).flat_map(|d| sim_delta(&w, step, mu, d)).collect();
    let law = WeightNoise::cell(mu, 16, 2).unwrap();
    let tr: Vec<f64> = (0..4)
        .flat_map(|d| trainer_delta(&w, &law, 10 + d))
        .collect();
    let (d, p) = ks(&sim, &tr);
    assert!(p > 0.01, "same law: D {d}, p {p}");
    // A doubled mu is told apart.
    let twice = WeightNoise::cell(2.0 * mu, 16, 2).unwrap();
    let tr2: Vec<f64> = (0..4)
        .flat_map(|d| trainer_delta(&w, &twice, 10 + d))
        .collect();
    let (d2, p2) = ks(&sim, &tr2);
    assert!(p2 < 1e-6, "doubled mu: D {d2}, p {p2}");
    // So is a Gaussian of the same standard deviation without the cells' limits.
    let sd = (sim.iter().map(|x| x * x).sum::<f64>() / sim.len() as f64).sqrt();
    let gauss: Vec<f64> =
        Vec::try_from(Tensor::randn([8192], (Kind::Double, tch::Device::Cpu)) * sd).unwrap();
    let (d3, p3) = ks(&sim, &gauss);
    assert!(p3 < 1e-6, "unclipped Gaussian: D {d3}, p {p3}");
}

#[test]
fn cell_law_moments_by_hand() {
    let _serial = crate::serial();
    tch::set_num_threads(1);
    // Bits the chip cannot hold are refused, saying what is allowed.
    let e = WeightNoise::cell(0.02, 40, 2).unwrap_err().to_string();
    assert!(
        e.contains("weight bits 40") && e.contains("allowed 2 to 32"),
        "{e}"
    );
    let e = WeightNoise::cell(0.02, 16, 9).unwrap_err().to_string();
    assert!(
        e.contains("bits per cell 9") && e.contains("allowed 1 to 8"),
        "{e}"
    );
    // Without noise: the chip's max-abs 16-bit rounding, nothing else.
    let (w, step) = weights(4);
    let zero = trainer_delta(&w, &WeightNoise::cell(0.0, 16, 2).unwrap(), 0);
    for (x, d) in w.iter().zip(&zero) {
        let q = (*x as f64 / step).round() * step;
        assert!((x + *d as f32 - q as f32).abs() < 1e-6, "{x} {d}");
    }
    // Weights whose every slice is at level 1 or 2 (u = 0x5555 or 0xAAAA): at mu 0.01 a cell
    // leaves [0, 3] with probability about 1e-11, so the change is a sum of Gaussians,
    // variance (0.03)^2 sum_s 16^s steps^2.
    let n = 20000i64;
    let mut vals = vec![0f32; n as usize];
    vals[0] = 1.0; // the group's max-abs: step 1/32767
    let step = 1.0 / 32767.0;
    for (i, v) in vals.iter_mut().enumerate().skip(1) {
        let u = if i % 2 == 0 { 0x5555 } else { 0xAAAA };
        *v = ((u - 32768) as f64 * step) as f32;
    }
    let law = WeightNoise::cell(0.01, 16, 2).unwrap();
    let d = trainer_delta(&vals, &law, 5);
    let inner: Vec<f64> = d[1..].iter().map(|x| x / step).collect();
    let mean = inner.iter().sum::<f64>() / inner.len() as f64;
    let var = inner.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (inner.len() - 1) as f64;
    let want = 0.03f64.powi(2) * (0..8).map(|s| 16f64.powi(s)).sum::<f64>();
    assert!(
        (var / want - 1.0).abs() < 0.05,
        "variance {var} against {want}"
    );
    assert!(
        mean.abs() < 4.0 * (want / inner.len() as f64).sqrt(),
        "mean {mean}"
    );
    // w = -max is stored as u = 1: the lowest slice at level 1, every other cell at level 0,
    // which can only rise: the weight falls by at most one step.
    let low = [-1.0f32, 1.0];
    for seed in 0..20 {
        let d = trainer_delta(&low, &law, seed);
        assert!(d[0] >= -(step * 1.0001), "{}", d[0]);
    }
}

/// With column scales (the accelerator's `data.weight_scale = "column"`) the cell law and the
/// folded quantisation round each output channel on its own max-abs grid, as the simulator's
/// `WeightQuant::per_column` does; per group, the small channel is rounded on the large one's.
#[test]
fn column_scales_round_each_output_channel_on_its_own_grid() {
    let _serial = crate::serial();
    tch::set_num_threads(1);
    // [out 2, in 3, 2, 2]: channel 1's weights are 1e-4 of channel 0's.
    let big = Tensor::rand([1, 3, 2, 2], (Kind::Float, tch::Device::Cpu)) - 0.5;
    let w = Tensor::cat(&[&big, &(&big * 1e-4)], 0);
    let flat: Vec<f32> = Vec::try_from(w.view([-1])).unwrap();
    let grid = |bits: u32| {
        let q = ((1i64 << (bits - 1)) - 1) as f32;
        let out: Vec<f32> = flat
            .chunks(12)
            .flat_map(|c| {
                let s = c.iter().fold(0f32, |a, &x| a.max(x.abs())) / q;
                c.iter().map(move |&x| (x / s).round() * s)
            })
            .collect();
        out
    };
    for (law, bits) in [
        (WeightNoise::cell(0.0, 8, 2).unwrap(), 8),
        (
            WeightNoise::folded(0.0)
                .unwrap()
                .with_weight_bits(8)
                .unwrap(),
            8,
        ),
    ] {
        let per_group = (&w + law.folded_delta(&w, 1)).view([-1]);
        let per_col = (&w + law.with_column_scales(true).folded_delta(&w, 1)).view([-1]);
        let per_col: Vec<f32> = Vec::try_from(per_col).unwrap();
        for (a, b) in per_col.iter().zip(grid(bits)) {
            assert!((a - b).abs() <= 1e-6 * b.abs().max(1e-9), "{a} vs {b}");
        }
        // One scale for both channels leaves the small one at most a level or two.
        let per_group: Vec<f32> = Vec::try_from(per_group).unwrap();
        let small_err: f32 = per_group[12..]
            .iter()
            .zip(&flat[12..])
            .map(|(a, b)| (a - b).abs())
            .sum();
        let col_err: f32 = per_col[12..]
            .iter()
            .zip(&flat[12..])
            .map(|(a, b)| (a - b).abs())
            .sum();
        assert!(small_err > 100.0 * col_err, "{small_err} vs {col_err}");
    }
}
