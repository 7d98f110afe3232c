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
    /// Bit patterns driven by the DACs, `[batch][K]`.
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
    if !any_outside(x, lo, hi) {
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

/// Whether any value of `x` lies outside lo..=hi: blocks over the threads, each a fold without
/// an early exit, which vectorises (rayon's `any` stops per value to look for a result, several
/// times slower over a whole layer).
pub(crate) fn any_outside(x: &[i64], lo: i64, hi: i64) -> bool {
    x.par_chunks(1 << 16)
        .any(|c| c.iter().fold(false, |a, &v| a | (v < lo) | (v > hi)))
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
///
/// Bit j = b*dac_bits + d of the applied value of row r is bit r of plane j. Eight rows at a
/// time: their values' byte q form an 8 x 8 bit matrix (row i in byte i), whose transpose holds
/// in byte k the eight rows' bit 8q + k, that is one byte of plane 8q + k; so the cost is per
/// eight rows and byte of input, where setting the planes bit by bit cost one step per row and
/// input bit (a sixth of a detector's cell-noise run).
pub(crate) fn input_planes(cfg: &XbarConfig, p: &Prepared, k: usize) -> Vec<u64> {
    let (rows, words, cycles, d) = (cfg.rows, cfg.words(), cfg.cycles(), cfg.dac_bits as usize);
    let tiles = k.div_ceil(rows);
    let per_vec = tiles * cycles * d * words;
    let nbits = cycles * d;
    let mut planes = vec![0u64; p.batch * per_vec];
    planes
        .par_chunks_mut(per_vec.max(1))
        .zip(p.applied.par_chunks(k.max(1)))
        .for_each(|(pl, xv)| {
            for t in 0..tiles {
                let tile = &xv[t * rows..k.min((t + 1) * rows)];
                // Within a tile, groups of eight rows never cross a 64-row word.
                for (g, eight) in tile.chunks(8).enumerate() {
                    let (w, shift) = (g / 8, 8 * (g % 8));
                    for q in 0..nbits.div_ceil(8) {
                        let mut m = 0u64;
                        for (i, &x) in eight.iter().enumerate() {
                            m |= u64::from((x >> (8 * q)) as u8) << (8 * i);
                        }
                        if m == 0 {
                            continue;
                        }
                        let m = transpose8(m);
                        for kk in 0..8.min(nbits - 8 * q) {
                            let byte = (m >> (8 * kk)) & 0xff;
                            pl[(t * nbits + 8 * q + kk) * words + w] |= byte << shift;
                        }
                    }
                }
            }
        });
    planes
}

/// The transpose of an 8 x 8 bit matrix held row i in byte i (bit 8i + j is element (i, j)):
/// three rounds of swapping the off-diagonal blocks of 1, 2 and 4 bits (Hacker's Delight, 7-3).
#[inline(always)]
fn transpose8(mut x: u64) -> u64 {
    let t = (x ^ (x >> 7)) & 0x00AA_00AA_00AA_00AA;
    x ^= t ^ (t << 7);
    let t = (x ^ (x >> 14)) & 0x0000_CCCC_0000_CCCC;
    x ^= t ^ (t << 14);
    let t = (x ^ (x >> 28)) & 0x0000_0000_F0F0_F0F0;
    x ^ t ^ (t << 28)
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The planes set bit by bit, as they were made before the transposes.
    fn by_bits(cfg: &XbarConfig, p: &Prepared, k: usize) -> Vec<u64> {
        let (rows, words, cycles, d) = (cfg.rows, cfg.words(), cfg.cycles(), cfg.dac_bits as usize);
        let per_vec = k.div_ceil(rows) * cycles * d * words;
        let mut planes = vec![0u64; p.batch * per_vec];
        for (pl, xv) in planes.chunks_mut(per_vec).zip(p.applied.chunks(k)) {
            for (r, &x) in xv.iter().enumerate() {
                let (t, rr) = (r / rows, r % rows);
                for j in 0..cycles * d {
                    let on = u64::from((x >> j) & 1);
                    pl[(t * cycles * d + j) * words + rr / 64] |= on << (rr % 64);
                }
            }
        }
        planes
    }

    /// Crossbars of 128, 100, 64, 13 and 200 rows, K not a multiple of them, 1-, 2- and 3-bit
    /// DACs, 8-, 16- and 24-bit inputs (input bits not a multiple of the DAC's too), dense,
    /// sparse and zero inputs, signed and unsigned: the same planes as bit by bit.
    #[test]
    fn planes_equal_the_bit_by_bit_planes() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for (rows, k) in [(128, 300), (100, 250), (64, 64), (13, 40), (200, 199)] {
            for (dac, bits) in [(1, 16), (2, 8), (1, 24), (3, 16), (2, 7)] {
                for mode in [InputMode::Unsigned, InputMode::Signed] {
                    let cfg = XbarConfig {
                        rows,
                        dac_bits: dac,
                        input_bits: bits,
                        ..XbarConfig::isaac()
                    };
                    let batch = 3;
                    let (lo, hi) = input_range(bits, mode);
                    let x: Vec<i64> = (0..batch * k)
                        .map(|i| match i % 3 {
                            0 => rng.gen_range(lo..=hi),
                            1 => rng.gen_range(lo..=hi) & rng.gen_range(lo..=hi),
                            _ => 0,
                        })
                        .collect();
                    let p = prepare(&cfg, &x, batch, k, mode).unwrap();
                    assert_eq!(
                        input_planes(&cfg, &p, k),
                        by_bits(&cfg, &p, k),
                        "rows {rows}, K {k}, {dac}-bit DACs, {bits}-bit inputs, {mode:?}"
                    );
                }
            }
        }
    }
}
