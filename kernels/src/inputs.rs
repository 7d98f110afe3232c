//! Input vectors as the DACs see them: range checks, bit-serial slices and their digital weights.

use crate::config::{fail, KernelError, XbarConfig};
use rayon::prelude::*;

/// How the integer inputs are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputMode {
    /// 0 ..= 2^bits - 1 (e.g. after ReLU).
    Unsigned,
    /// Two's complement. With 1-bit DACs the MSB cycle is shifted in with weight -2^(bits-1)
    /// (SPEC 3.2 step 7). With wider DACs the top slice cannot carry a sign, so inputs are fed
    /// offset-binary (x + 2^(bits-1)) and 2^(bits-1) * sum(w) is removed digitally.
    Signed,
}

/// Inputs ready for the crossbars (every engine prepares them here, so the range check and the
/// encoding exist once).
pub struct Prepared {
    pub batch: usize,
    /// Bit patterns driven by the DACs, [batch][K].
    pub applied: Vec<u32>,
    /// Digital weight of each cycle (+-2^(b*dac_bits)).
    pub cycle_weight: Vec<i64>,
    /// Sum of the applied values of each vector (for removing the weight bias).
    pub applied_sum: Vec<i64>,
    /// Offset added to signed inputs fed offset-binary (0 otherwise).
    pub offset: i64,
}

/// Checks a B x K batch against the input range of `mode` and encodes it for the DACs.
pub fn prepare(
    cfg: &XbarConfig,
    x: &[i64],
    batch: usize,
    k: usize,
    mode: InputMode,
) -> Result<Prepared, KernelError> {
    check(cfg, x, batch, k, mode)?;
    Ok(encode_checked(cfg, x, batch, k, mode))
}

/// The range check of `prepare` alone, for a path that needs no DAC encoding (the exact product,
/// of every engine).
pub fn check(
    cfg: &XbarConfig,
    x: &[i64],
    batch: usize,
    k: usize,
    mode: InputMode,
) -> Result<(), KernelError> {
    if x.len() != batch * k {
        return fail(format!(
            "inputs hold {} values, expected batch {batch} x K {k} = {}",
            x.len(),
            batch * k
        ));
    }
    let bits = cfg.input_bits;
    let (lo, hi) = input_range(bits, mode);
    // Over the threads first (whole layers' inputs); the first bad value only on failure.
    let bad = |v: &i64| *v < lo || *v > hi;
    if !x.par_iter().any(bad) {
        return Ok(());
    }
    if let Some((i, v)) = x.iter().enumerate().find(|(_, v)| bad(v)) {
        return fail(format!(
            "input [{}, {}] = {v} is outside the {} {bits}-bit range {lo}..={hi}",
            i / k.max(1),
            i % k.max(1),
            if mode == InputMode::Signed {
                "signed"
            } else {
                "unsigned"
            }
        ));
    }
    Ok(())
}

/// The integers a `bits`-bit input may take: 0..=2^bits - 1 unsigned, two's complement signed.
pub fn input_range(bits: u32, mode: InputMode) -> (i64, i64) {
    match mode {
        InputMode::Unsigned => (0, (1i64 << bits) - 1),
        InputMode::Signed => (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1),
    }
}

/// Encodes a checked batch (see `prepare`).
pub(crate) fn encode_checked(
    cfg: &XbarConfig,
    x: &[i64],
    batch: usize,
    k: usize,
    mode: InputMode,
) -> Prepared {
    let bits = cfg.input_bits;
    let cycles = cfg.cycles();
    let d = cfg.dac_bits;
    let two_comp = mode == InputMode::Signed && d == 1;
    let offset = if mode == InputMode::Signed && d > 1 {
        1i64 << (bits - 1)
    } else {
        0
    };
    let mask = (1i64 << bits) - 1;
    let applied: Vec<u32> = x.iter().map(|&v| ((v + offset) & mask) as u32).collect();
    let cycle_weight = (0..cycles)
        .map(|b| {
            let w = 1i64 << (b as u32 * d);
            if two_comp && b == cycles - 1 {
                -w
            } else {
                w
            }
        })
        .collect();
    // The digital value of an applied pattern: what the shift-and-add reconstructs.
    let applied_sum = x
        .chunks(k.max(1))
        .take(batch)
        .map(|row| row.iter().map(|&v| v + offset).sum())
        .collect();
    Prepared {
        batch,
        applied,
        cycle_weight,
        applied_sum,
        offset,
    }
}

/// Bit-planes of the input slices: for vector v, row tile t, cycle b, DAC bit d, a row mask in
/// `words` u64 words. Index ((v*tiles + t)*cycles + b)*dac_bits*words + d*words + w.
pub(crate) fn input_planes(cfg: &XbarConfig, p: &Prepared, k: usize) -> Vec<u64> {
    let (rows, words, cycles, d) = (cfg.rows, cfg.words(), cfg.cycles(), cfg.dac_bits as usize);
    let tiles = k.div_ceil(rows);
    let per_vec = tiles * cycles * d * words;
    let mut planes = vec![0u64; p.batch * per_vec];
    planes
        .par_chunks_mut(per_vec.max(1))
        .zip(p.applied.par_chunks(k.max(1)))
        .for_each(|(pl, xv)| {
            for (r, &x) in xv.iter().enumerate() {
                let (t, rr) = (r / rows, r % rows);
                let (w, bit) = (rr / 64, rr % 64);
                for b in 0..cycles {
                    for dd in 0..d {
                        let on = (x >> (b * d + dd)) & 1;
                        pl[((t * cycles + b) * d + dd) * words + w] |= (on as u64) << bit;
                    }
                }
            }
        });
    planes
}

/// Input slice levels as floats for the analogue path: row (v*cycles + b), column r.
pub(crate) fn input_levels(cfg: &XbarConfig, p: &Prepared, k: usize) -> Vec<f32> {
    let (cycles, d) = (cfg.cycles(), cfg.dac_bits);
    let dmax = cfg.dac_max();
    let mut lv = vec![0f32; p.batch * cycles * k];
    lv.par_chunks_mut((cycles * k).max(1))
        .zip(p.applied.par_chunks(k.max(1)))
        .for_each(|(out, xv)| {
            for b in 0..cycles {
                let row = &mut out[b * k..(b + 1) * k];
                for (o, &x) in row.iter_mut().zip(xv) {
                    *o = ((x >> (b as u32 * d)) & dmax) as f32;
                }
            }
        });
    lv
}
