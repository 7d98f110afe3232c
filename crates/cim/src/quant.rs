//! Per-layer quantisation between floats and the crossbars' integers (SPEC 3.2 steps 1 and 8).
//! Weights: symmetric max-abs scale, s_w = max|w| / (2^(bits-1) - 1) over the layer, or with
//! `data.weight_scale = "column"` one such scale per output column (the rescale after the
//! shift-and-add multiplies each output by its own column's s_w). Activations: calibrated
//! on sample inputs; non-negative samples give an unsigned code (s_x = max / (2^bits - 1)),
//! otherwise two's complement (s_x = max|x| / (2^(bits-1) - 1)). The code is the f32 quotient
//! x / s_x rounded to nearest, as every engine computes it: the quotient is within 2^-8 of a step
//! of the exact one at 16 bits, within half a step at 24 (`data.input_bits` allows 1..=24).

use ndarray::{Array2, ArrayView2};
use nestevo_model::abs_max_bits;
use rayon::prelude::*;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightQuant {
    /// The layer's scale; with column scales, the largest of them.
    pub scale: f32,
    pub bits: u32,
    /// One scale per output column (None: `scale` for every column).
    pub columns: Option<Vec<f32>>,
}

impl WeightQuant {
    /// One max-abs scale per column of the K x N `w`.
    pub fn per_column(w: ArrayView2<f32>, bits: u32) -> Self {
        let q = ((1i64 << (bits - 1)) - 1) as f32;
        let maxes: Vec<f32> = (0..w.ncols())
            .into_par_iter()
            .map(|c| w.column(c).iter().fold(0f32, |a, &x| a.max(x.abs())))
            .collect();
        let step = |m: f32| if m > 0.0 { m / q } else { 1.0 };
        // The layer's scale is the largest column's, as `max_abs` gives it.
        let scale = step(maxes.iter().copied().fold(0f32, f32::max));
        let cols = maxes.into_iter().map(step).collect();
        WeightQuant {
            scale,
            bits,
            columns: Some(cols),
        }
    }

    /// The max-abs scale of finite weights `w` (`nestevo_model::abs_max_bits` tells whether
    /// they are).
    pub fn max_abs(w: &[f32], bits: u32) -> Self {
        Self::from_max_abs(f32::from_bits(abs_max_bits(w)), bits)
    }

    /// The max-abs scale of weights whose largest |w| is `m`.
    pub fn from_max_abs(m: f32, bits: u32) -> Self {
        let q = ((1i64 << (bits - 1)) - 1) as f32;
        WeightQuant {
            scale: if m > 0.0 { m / q } else { 1.0 },
            bits,
            columns: None,
        }
    }
    /// The integer weights in standard layout, whatever the layout of `w` (a transposed view is
    /// read row by row over the threads: no copy of the floats first).
    pub fn quantize(&self, w: ArrayView2<f32>) -> Array2<i64> {
        let (lo, hi) = (-(1i64 << (self.bits - 1)), (1i64 << (self.bits - 1)) - 1);
        let f = |x: f32, s: f32| round_i64(x / s).clamp(lo, hi);
        if w.is_standard_layout() && self.columns.is_none() {
            return par_map(w, |x| f(x, self.scale));
        }
        let (k, n) = w.dim();
        let scales = self.columns.clone().unwrap_or_else(|| vec![self.scale; n]);
        if n > 0 && w.strides()[0] == 1 {
            return Self::quantize_transposed(w, &scales, f);
        }
        let mut out = vec![0i64; k * n];
        if n > 0 {
            out.par_chunks_mut(n).enumerate().for_each(|(r, row)| {
                for ((o, &x), &s) in row.iter_mut().zip(w.row(r)).zip(&scales) {
                    *o = f(x, s);
                }
            });
        }
        Array2::from_shape_vec((k, n), out).expect("k x n values")
    }

    /// `quantize` of a view whose columns lie contiguous (a conv's weights, transposed): blocks of
    /// rows over the threads, each in tiles of 32 rows by 16 columns, so that the floats are read
    /// in their memory order and each row of a tile is written as one run. Row by row, every
    /// value would be a strided read (a third of programming ResNet-50); a whole block row per
    /// column would write 32 values a row apart, 4 KiB for 512 outputs, all in one L1 set.
    fn quantize_transposed(
        w: ArrayView2<f32>,
        scales: &[f32],
        f: impl Fn(f32, f32) -> i64 + Sync,
    ) -> Array2<i64> {
        let (k, n) = w.dim();
        // Every value is written below, once: no zeroing pass over the layer first.
        let mut out: Vec<i64> = Vec::with_capacity(k * n);
        const ROWS: usize = 32;
        const COLS: usize = 16;
        out.spare_capacity_mut()[..k * n]
            .par_chunks_mut(ROWS * n)
            .enumerate()
            .for_each(|(b, block)| {
                let r0 = b * ROWS;
                let rows = block.len() / n;
                let tile = w.slice(ndarray::s![r0..r0 + rows, ..]);
                for c0 in (0..n).step_by(COLS) {
                    let c1 = (c0 + COLS).min(n);
                    let mut t = [[0i64; COLS]; ROWS];
                    for c in c0..c1 {
                        let s = scales[c];
                        for (tr, &x) in t.iter_mut().zip(tile.column(c)) {
                            tr[c - c0] = f(x, s);
                        }
                    }
                    for (i, tr) in t[..rows].iter().enumerate() {
                        for (o, &v) in block[i * n + c0..i * n + c1].iter_mut().zip(tr) {
                            o.write(v);
                        }
                    }
                }
            });
        // SAFETY: the blocks cover rows 0..k, their tiles columns 0..n: all k * n values were
        // written above.
        unsafe { out.set_len(k * n) };
        Array2::from_shape_vec((k, n), out).expect("k x n values")
    }

    /// The integer outputs y (B x N) back to floats: `y[b, n] * s_w[n] * act_scale`, in f64.
    pub fn dequantize(&self, y: ArrayView2<i64>, act_scale: f32) -> Array2<f32> {
        match &self.columns {
            None => {
                let s = self.scale as f64 * act_scale as f64;
                par_map(y, |v| (v as f64 * s) as f32)
            }
            Some(cols) => {
                let s: Vec<f64> = cols.iter().map(|&c| c as f64 * act_scale as f64).collect();
                let y = y.as_standard_layout();
                let ys = y.as_slice().expect("standard layout");
                let mut out = vec![0f32; ys.len()];
                if !s.is_empty() {
                    out.par_chunks_mut(s.len())
                        .zip(ys.par_chunks(s.len()))
                        .for_each(|(o, yr)| {
                            for ((o, &v), &s) in o.iter_mut().zip(yr).zip(&s) {
                                *o = (v as f64 * s) as f32;
                            }
                        });
                }
                Array2::from_shape_vec(y.dim(), out).expect("same shape")
            }
        }
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
        par_map(x, |v| round_i64(v / self.scale).clamp(lo, hi))
    }
}

/// `v.round() as i64` (half away from zero) without the libm call `round` compiles to on a
/// baseline x86-64 target, which was a twentieth of a ResNet-50 run: adding the largest f32
/// below 0.5, with v's sign, then truncating is exact for every f32 (LLVM's own lowering of
/// `round` where SSE4.1 has it). NaN gives 0 and the infinities saturate, as with `round`.
#[inline]
pub fn round_i64(v: f32) -> i64 {
    (v + f32::from_bits(0x3EFF_FFFF).copysign(v)) as i64
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
