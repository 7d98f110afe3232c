//! Per-layer quantisation between floats and the crossbars' integers (SPEC 3.2 steps 1 and 8).
//! Weights: symmetric max-abs scale, s_w = max|w| / (2^(bits-1) - 1). Activations: calibrated
//! on sample inputs; non-negative samples give an unsigned code (s_x = max / (2^bits - 1)),
//! otherwise two's complement (s_x = max|x| / (2^(bits-1) - 1)). Rounding is to nearest.

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WeightQuant {
    pub scale: f32,
    pub bits: u32,
}

impl WeightQuant {
    pub fn max_abs(w: &[f32], bits: u32) -> Self {
        // The maximum does not depend on the order: over the threads (25 M weights in ResNet-50).
        let m = w
            .par_iter()
            .fold(|| 0f32, |a, &x| a.max(x.abs()))
            .reduce(|| 0f32, f32::max);
        let q = ((1i64 << (bits - 1)) - 1) as f32;
        WeightQuant {
            scale: if m > 0.0 { m / q } else { 1.0 },
            bits,
        }
    }
    /// The integer weights in standard layout, whatever the layout of `w` (a transposed view is
    /// read row by row over the threads: no copy of the floats first).
    pub fn quantize(&self, w: ArrayView2<f32>) -> Array2<i64> {
        let (lo, hi) = (-(1i64 << (self.bits - 1)), (1i64 << (self.bits - 1)) - 1);
        let f = |x: f32| ((x / self.scale).round() as i64).clamp(lo, hi);
        if w.is_standard_layout() {
            return par_map(w, f);
        }
        let (k, n) = w.dim();
        let mut out = vec![0i64; k * n];
        if n > 0 {
            out.par_chunks_mut(n).enumerate().for_each(|(r, row)| {
                for (o, &x) in row.iter_mut().zip(w.row(r)) {
                    *o = f(x);
                }
            });
        }
        Array2::from_shape_vec((k, n), out).expect("k x n values")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ActQuant {
    pub scale: f32,
    pub bits: u32,
    pub signed: bool,
}

impl ActQuant {
    /// Calibrates on sample activations (any shape, flattened).
    pub fn calibrate(samples: &[f32], bits: u32) -> Self {
        let (mn, mx) = samples
            .iter()
            .fold((0f32, 0f32), |(a, b), &x| (a.min(x), b.max(x)));
        let signed = mn < 0.0;
        let (m, q) = if signed {
            (mx.max(-mn), ((1i64 << (bits - 1)) - 1) as f32)
        } else {
            (mx, ((1i64 << bits) - 1) as f32)
        };
        ActQuant {
            scale: if m > 0.0 { m / q } else { 1.0 },
            bits,
            signed,
        }
    }
    pub fn range(&self) -> (i64, i64) {
        if self.signed {
            (-(1i64 << (self.bits - 1)), (1i64 << (self.bits - 1)) - 1)
        } else {
            (0, (1i64 << self.bits) - 1)
        }
    }
    /// Values outside the calibrated range clamp to it.
    pub fn quantize(&self, x: ArrayView2<f32>) -> Array2<i64> {
        let (lo, hi) = self.range();
        par_map(x, |v| ((v / self.scale).round() as i64).clamp(lo, hi))
    }
}

/// `x.mapv(f)` over the threads where `x` is contiguous (whole layers' activations).
pub(crate) fn par_map<A: Copy + Sync, B: Send>(
    x: ArrayView2<A>,
    f: impl Fn(A) -> B + Sync + Send,
) -> Array2<B> {
    match x.as_slice() {
        Some(s) => Array2::from_shape_vec(x.dim(), s.par_iter().map(|&v| f(v)).collect())
            .expect("same shape"),
        None => x.mapv(f),
    }
}
