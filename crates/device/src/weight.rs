//! Eq. 18-20 at weight level: sigma = mu * (max - min) of the weights, a seeded Normal draw
//! around each, clipped back into [min, max]. The simulator applies it to a layer's weights
//! (after batch norm is folded in) before quantisation; the trainer draws the same law.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// Eq. 18-20 on float weights, in place; the range is the slice's own [min, max].
pub fn perturb_f32(w: &mut [f32], mu: f64, seed: u64) {
    perturb(w, mu, seed, |x| x as f64, |v| v as f32);
}

/// Eq. 18-20 on integer weights, rounded back to integers within [min, max].
pub fn perturb_i64(w: &mut [i64], mu: f64, seed: u64) {
    perturb(w, mu, seed, |x| x as f64, |v| v.round() as i64);
}

/// sigma = mu * (max - min), a seeded Normal draw, clipped.
fn perturb<T: Copy>(
    w: &mut [T],
    mu: f64,
    seed: u64,
    to: impl Fn(T) -> f64,
    from: impl Fn(f64) -> T,
) {
    let (lo, hi) = w
        .iter()
        .map(|&x| to(x))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
    let sigma = mu * (hi - lo);
    // Nothing to draw for an empty or constant tensor (sigma 0 or NaN).
    if sigma.is_nan() || sigma <= 0.0 {
        return;
    }
    let normal = Normal::new(0.0, sigma).expect("finite sigma");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for x in w.iter_mut() {
        *x = from((to(*x) + normal.sample(&mut rng)).clamp(lo, hi));
    }
}
