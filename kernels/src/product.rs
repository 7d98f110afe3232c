//! The noiseless path where no conversion can saturate: the exact integer product.
//!
//! With the exact-range ADC (code = clamp(S, 0, 2^bits - 1)) a conversion changes its column sum
//! only when S > 2^bits - 1. A column's sum in one read is S = sum_r level_r * c_r <= dac_max *
//! sum_r c_r, with c_r the stored (biased, sliced, possibly flipped) cells; the unit column of a
//! flipping crossbar sums the input levels alone, S <= dac_max * rows. When every such bound of
//! every crossbar is within the ADC's range, every code equals its sum, the shift-and-add is
//! linear, and the path's merged result minus the bias terms is, term by term,
//!
//! y[v, o] = sum_r x[v, r] * w[r, o]
//!
//! (the flip identity cell_max * U - S' = S, the sign of the top cycle of two's complement
//! inputs and the offset of offset-binary ones all cancel). That is one matrix product, done in
//! f64, which is exact while K * max|x| * max|w| < 2^53. Every event count follows from the
//! shapes: each crossbar is read `cycles` times per vector, with its rows driven and its data
//! columns (and unit column) converted; no conversion saturates.
//!
//! ISAAC (128 rows of 2-bit cells, flipping, 8-bit ADC) is always within range: a flipped
//! column stores at most half of 128 * 3 = 384, and 192 and 128 are below 255.

use crate::adc::AdcMode;
use crate::config::XbarConfig;
use crate::counts::Counts;
use rayon::prelude::*;

/// The weights as f64 for the product, kept only for layers where the product is exact.
pub(crate) struct Linear {
    /// Row-major K x N, the signed weights.
    w: Vec<f64>,
    /// Per input vector: (crossbar reads, DAC pulses, ADC conversions, shift-and-adds).
    per_vector: [u64; 4],
}

/// One programmed crossbar as seen here: used rows, data columns, and the largest sum of stored
/// levels of any of its data columns.
pub(crate) type Stored = (usize, usize, u64);

/// The rule every engine follows: a noiseless run of a K-row layer is the exact product when
/// the ADC has the exact range, no sum one read can deliver exceeds its top code (`max_sum`:
/// the largest stored column sum of any crossbar, and with flipping its used rows, times
/// dac_max) and f64 holds every partial sum (K * 2^input_bits * 2^(weight_bits-1) < 2^53).
pub fn exact_product_holds(cfg: &XbarConfig, k: usize, max_sum: u64) -> bool {
    // |x| <= 2^input_bits, |w| <= 2^(weight_bits-1), at most K terms.
    let bits = cfg.input_bits + cfg.weight_bits - 1 + usize::BITS - k.leading_zeros();
    matches!(cfg.adc_mode, AdcMode::Exact)
        && max_sum <= cfg.max_code() as u64
        && bits < f64::MANTISSA_DIGITS
}

/// The exact product of `w` (K x N) if the programmed crossbars provably never saturate and f64
/// holds every partial sum exactly; `None` otherwise (the bit-plane kernels then run).
pub(crate) fn prepare(cfg: &XbarConfig, xbars: &[Stored], w: &[i64], k: usize) -> Option<Linear> {
    let dmax = cfg.dac_max() as u64;
    let max_sum = xbars
        .iter()
        .map(|&(rows, _, col_max)| col_max.max(if cfg.flip { rows as u64 } else { 0 }) * dmax)
        .max()
        .unwrap_or(0);
    if !exact_product_holds(cfg, k, max_sum) {
        return None;
    }
    let cycles = cfg.cycles() as u64;
    let mut per_vector = [0u64; 4];
    for &(rows, cols, _) in xbars {
        per_vector[0] += cycles;
        per_vector[1] += rows as u64 * cycles;
        per_vector[2] += (cols as u64 + cfg.flip as u64) * cycles;
        per_vector[3] += cols as u64 * cycles;
    }
    Some(Linear {
        w: w.par_iter().map(|&v| v as f64).collect(),
        per_vector,
    })
}

/// y = x w (batch x N) and the counts of the bit-plane kernels on the same inputs.
pub(crate) fn run(l: &Linear, x: &[i64], batch: usize, k: usize, n: usize) -> (Vec<i64>, Counts) {
    let xf: Vec<f64> = x.par_iter().map(|&v| v as f64).collect();
    let parts = rayon::current_num_threads().max(1) * 2;
    // Each dgemm packs all of its share of w (K x N, 8 bytes a weight) before it multiplies:
    // blocks of rows would pack the whole of w once per block, blocks of columns pack each
    // weight once and x (batch x K) once per block. Split along whichever packs less; with few
    // vectors (the last layers of a network on one image) w is the larger.
    let y = if batch >= n {
        let per = batch.div_ceil(parts).max(8);
        let mut yf = vec![0f64; batch * n];
        yf.par_chunks_mut(per * n)
            .zip(xf.par_chunks(per * k))
            .for_each(|(yb, xb)| dgemm(xb.len() / k, k, n, xb, k, &l.w, n, yb, n));
        yf.par_iter().map(|&v| v as i64).collect()
    } else {
        // Column blocks of a multiple of 16 (the f64 kernels' widest register block).
        let per = n.div_ceil(parts).div_ceil(16) * 16;
        let blocks: Vec<(usize, Vec<f64>)> = (0..n.div_ceil(per))
            .into_par_iter()
            .map(|b| {
                let (c0, c1) = (b * per, ((b + 1) * per).min(n));
                let mut yb = vec![0f64; batch * (c1 - c0)];
                dgemm(batch, k, c1 - c0, &xf, k, &l.w[c0..], n, &mut yb, c1 - c0);
                (c0, yb)
            })
            .collect();
        let mut y = vec![0i64; batch * n];
        for (c0, yb) in &blocks {
            let w = yb.len() / batch;
            for (yr, br) in y.chunks_exact_mut(n).zip(yb.chunks_exact(w)) {
                for (d, &v) in yr[*c0..][..w].iter_mut().zip(br) {
                    *d = v as i64;
                }
            }
        }
        y
    };
    let b = batch as u64;
    let [reads, pulses, conv, adds] = l.per_vector;
    let counts = Counts {
        crossbar_reads: reads * b,
        dac_pulses: pulses * b,
        adc_conversions: conv * b,
        shift_adds: adds * b,
        ..Counts::default()
    };
    (y, counts)
}

/// c = a b for row-major a (m x k, row stride lda), b (k x n, row stride ldb), c (m x n, row
/// stride ldc).
#[allow(clippy::too_many_arguments)]
fn dgemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f64],
    lda: usize,
    b: &[f64],
    ldb: usize,
    c: &mut [f64],
    ldc: usize,
) {
    // The bounds every element the product touches lies within.
    assert!(m == 0 || a.len() >= (m - 1) * lda + k);
    assert!(k == 0 || b.len() >= (k - 1) * ldb + n);
    assert!(m == 0 || c.len() >= (m - 1) * ldc + n);
    // SAFETY: the asserts above keep every index of a, b and c in bounds.
    unsafe {
        matrixmultiply::dgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            lda as isize,
            1,
            b.as_ptr(),
            ldb as isize,
            1,
            0.0,
            c.as_mut_ptr(),
            ldc as isize,
            1,
        );
    }
}
