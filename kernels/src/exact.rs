//! The noiseless path: column sums as popcounts of input bit-planes against cell bit-planes,
//! S = sum_{d,j} 2^(d+j) popcount(x_d & cell_j), then the ADC on every column of every read.

use crate::adc::{AdcMode, CalAdc, ExactAdc, IntAdc};
use crate::counts::Counts;
use crate::inputs::Prepared;
use crate::program::{Crossbar, Programmed};
use crate::simd::Simd;
use rayon::prelude::*;

pub(crate) fn run(
    p: &Programmed,
    prep: &Prepared,
    planes: &[u64],
    simd: Simd,
) -> (Vec<i64>, Counts) {
    let max = p.cfg.max_code() as u64;
    match p.cfg.adc_mode {
        AdcMode::Exact => run_with(p, prep, planes, &ExactAdc { max }, simd),
        AdcMode::Calibrated { full_scale } => run_with(
            p,
            prep,
            planes,
            &CalAdc {
                inv_lsb: max as f64 / full_scale,
                max,
                full_scale,
            },
            simd,
        ),
    }
}

fn run_with<A: IntAdc>(
    p: &Programmed,
    prep: &Prepared,
    planes: &[u64],
    adc: &A,
    simd: Simd,
) -> (Vec<i64>, Counts) {
    let parts: Vec<_> = p
        .tasks(prep.batch, usize::MAX, 1)
        .into_par_iter()
        .map(|task| {
            let (ci, v0, v1) = task;
            let outs = p.xbars[ci].outs;
            let mut block = vec![0i64; (v1 - v0) * outs];
            let mut c = Counts::default();
            // SAFETY: `simd::decide` names a tier only when the CPU reports all its features.
            unsafe {
                match simd {
                    Simd::Avx512 => task_avx512(p, prep, planes, adc, task, &mut block, &mut c),
                    Simd::Avx2 => task_avx2(p, prep, planes, adc, task, &mut block, &mut c),
                    Simd::Plain => task_body(p, prep, planes, adc, task, &mut block, &mut c),
                }
            }
            (task, block, c)
        })
        .collect();
    p.gather(prep.batch, parts)
}

type Task = (usize, usize, usize);

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vpopcntdq,avx512bw,avx512vl,avx2,popcnt")]
unsafe fn task_avx512<A: IntAdc>(
    p: &Programmed,
    prep: &Prepared,
    planes: &[u64],
    adc: &A,
    t: Task,
    out: &mut [i64],
    c: &mut Counts,
) {
    task_body(p, prep, planes, adc, t, out, c)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn task_avx2<A: IntAdc>(
    p: &Programmed,
    prep: &Prepared,
    planes: &[u64],
    adc: &A,
    t: Task,
    out: &mut [i64],
    c: &mut Counts,
) {
    task_body(p, prep, planes, adc, t, out, c)
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn task_avx512<A: IntAdc>(
    p: &Programmed,
    prep: &Prepared,
    planes: &[u64],
    adc: &A,
    t: Task,
    out: &mut [i64],
    c: &mut Counts,
) {
    task_body(p, prep, planes, adc, t, out, c)
}
#[cfg(not(target_arch = "x86_64"))]
unsafe fn task_avx2<A: IntAdc>(
    p: &Programmed,
    prep: &Prepared,
    planes: &[u64],
    adc: &A,
    t: Task,
    out: &mut [i64],
    c: &mut Counts,
) {
    task_body(p, prep, planes, adc, t, out, c)
}

/// One column tile for vectors v0..v1, merging its row tiles. Scratch is allocated once here,
/// never inside the loops.
#[inline(always)]
fn task_body<A: IntAdc>(
    p: &Programmed,
    prep: &Prepared,
    planes: &[u64],
    adc: &A,
    (ci, v0, v1): Task,
    out: &mut [i64],
    cnt: &mut Counts,
) {
    let cfg = &p.cfg;
    let (words, cycles, d) = (cfg.words(), cfg.cycles(), cfg.dac_bits as usize);
    let (bpc, slices) = (cfg.bits_per_cell as usize, cfg.slices());
    let cmax = cfg.cell_max() as i64;
    let flip = cfg.flip;
    let per_tile = cycles * d * words;
    let per_vec = p.row_tiles * per_tile;
    let mut colacc_buf = vec![0i64; cfg.cols.div_ceil(8) * 8];
    // The top cycle's sign: -1 for the MSB of two's complement inputs.
    let top_neg: i64 = if prep.cycle_weight[cycles - 1] < 0 {
        -1
    } else {
        0
    };
    let mut sat = 0u64;
    let outs = p.xbars[ci].outs;
    for v in v0..v1 {
        let orow = &mut out[(v - v0) * outs..][..outs];
        for t in 0..p.row_tiles {
            let xb = &p.xbars[t * p.col_tiles + ci];
            let xp = &planes[v * per_vec + t * per_tile..][..per_tile];
            let colacc = &mut colacc_buf[..xb.cols_pad];
            // The unit column of every cycle, through the same ADC. A flipped column's value is
            // cell_max * code(U_b) - code(S'_b); shift-and-add is linear, so its sum over the
            // cycles is F - sum_b w_b code(S'_b) with F = sum_b w_b cell_max code(U_b).
            let mut f_sum = 0i64;
            if flip {
                for (b, &w) in prep.cycle_weight.iter().enumerate() {
                    let mut u = 0u64;
                    for dd in 0..d {
                        for w in 0..words {
                            u += (xp[(b * d + dd) * words + w].count_ones() as u64) << dd;
                        }
                    }
                    sat += adc.saturated(u) as u64;
                    f_sum += w * cmax * adc.code(u) as i64;
                }
            }
            let dsh = d as u32;
            sat += match (d, bpc, words) {
                (1, 1, 1) => tile8::<A, 1, 1>(xb, xp, cycles, top_neg, adc, colacc),
                (1, 1, 2) => tile8::<A, 1, 2>(xb, xp, cycles, top_neg, adc, colacc),
                (1, 1, 3) => tile8::<A, 1, 3>(xb, xp, cycles, top_neg, adc, colacc),
                (1, 1, 4) => tile8::<A, 1, 4>(xb, xp, cycles, top_neg, adc, colacc),
                (1, 2, 1) => tile8::<A, 2, 1>(xb, xp, cycles, top_neg, adc, colacc),
                (1, 2, 2) => tile8::<A, 2, 2>(xb, xp, cycles, top_neg, adc, colacc),
                (1, 2, 3) => tile8::<A, 2, 3>(xb, xp, cycles, top_neg, adc, colacc),
                (1, 2, 4) => tile8::<A, 2, 4>(xb, xp, cycles, top_neg, adc, colacc),
                (1, 4, 1) => tile8::<A, 4, 1>(xb, xp, cycles, top_neg, adc, colacc),
                (1, 4, 2) => tile8::<A, 4, 2>(xb, xp, cycles, top_neg, adc, colacc),
                (1, 4, 3) => tile8::<A, 4, 3>(xb, xp, cycles, top_neg, adc, colacc),
                (1, 4, 4) => tile8::<A, 4, 4>(xb, xp, cycles, top_neg, adc, colacc),
                _ => tile_any(xb, xp, &prep.cycle_weight, adc, colacc, (dsh, bpc, words)),
            };
            let reads = cycles as u64;
            cnt.crossbar_reads += reads;
            cnt.dac_pulses += xb.rows as u64 * reads;
            cnt.adc_conversions += (xb.cols as u64 + flip as u64) * reads;
            cnt.shift_adds += xb.cols as u64 * reads;
            for (o, y) in orow.iter_mut().enumerate() {
                let cs = &colacc[o * slices..][..slices];
                let fm = &xb.flip_mask[o * slices..][..slices];
                let mut a = 0i64;
                for (k, (&x, &m)) in cs.iter().zip(fm).enumerate() {
                    let val = if m != 0 { f_sum - x } else { x };
                    a += val << (k * bpc);
                }
                *y += a;
            }
        }
    }
    cnt.adc_saturations += sat;
}

/// One crossbar, one input vector, all cycles, 1-bit DACs: eight columns at a time, their
/// shift-and-add accumulators kept in registers across the cycles (Horner order, from the top
/// cycle down). Every column of every cycle goes through the ADC. Leaves sum_b w_b code_b per
/// column in `colacc`; returns the saturated conversions.
#[inline(always)]
fn tile8<A: IntAdc, const J: usize, const W: usize>(
    xb: &Crossbar,
    xp: &[u64],
    cycles: usize,
    top_neg: i64,
    adc: &A,
    colacc: &mut [i64],
) -> u64 {
    let (np, planes) = (xb.cols_pad, xb.planes());
    let mut sat = [0u64; 8];
    for (c0, out) in (0..np).step_by(8).zip(colacc.chunks_exact_mut(8)) {
        let mut pl = [[[0u64; 8]; W]; J];
        for (j, pj) in pl.iter_mut().enumerate() {
            for (w, pw) in pj.iter_mut().enumerate() {
                pw.copy_from_slice(&planes[(j * W + w) * np + c0..][..8]);
            }
        }
        let mut acc = codes8::<A, J, W>(&pl, &xp[(cycles - 1) * W..][..W], adc, &mut sat);
        for a in acc.iter_mut() {
            *a = (*a ^ top_neg) - top_neg;
        }
        for b in (0..cycles - 1).rev() {
            let c = codes8::<A, J, W>(&pl, &xp[b * W..][..W], adc, &mut sat);
            for l in 0..8 {
                acc[l] = (acc[l] << 1) + c[l];
            }
        }
        out.copy_from_slice(&acc);
    }
    sat.iter().sum()
}

/// ADC codes of eight columns in one cycle: S = sum_j 2^j popcount(x & plane_j), clamped.
#[inline(always)]
fn codes8<A: IntAdc, const J: usize, const W: usize>(
    pl: &[[[u64; 8]; W]; J],
    x: &[u64],
    adc: &A,
    sat: &mut [u64; 8],
) -> [i64; 8] {
    let mut s = [0u64; 8];
    for (j, pj) in pl.iter().enumerate() {
        for (w, pw) in pj.iter().enumerate() {
            for l in 0..8 {
                s[l] += ((x[w] & pw[l]).count_ones() as u64) << j;
            }
        }
    }
    let mut c = [0i64; 8];
    for l in 0..8 {
        c[l] = adc.code(s[l]) as i64;
        sat[l] += adc.saturated(s[l]) as u64;
    }
    c
}

/// Any DAC width, bits per cell and row count: the same arithmetic with runtime loop bounds.
fn tile_any<A: IntAdc>(
    xb: &Crossbar,
    xp: &[u64],
    cycle_weight: &[i64],
    adc: &A,
    colacc: &mut [i64],
    (d, bpc, words): (u32, usize, usize),
) -> u64 {
    let (np, xb_planes) = (xb.cols_pad, xb.planes());
    let d = d as usize;
    let mut sat = 0u64;
    colacc.fill(0);
    for (b, &wb) in cycle_weight.iter().enumerate() {
        for (c, a) in colacc.iter_mut().enumerate() {
            let mut s = 0u64;
            for dd in 0..d {
                for j in 0..bpc {
                    for w in 0..words {
                        let x = xp[(b * d + dd) * words + w];
                        let pw = xb_planes[(j * words + w) * np + c];
                        s += ((x & pw).count_ones() as u64) << (dd + j);
                    }
                }
            }
            sat += adc.saturated(s) as u64;
            *a += wb * adc.code(s) as i64;
        }
    }
    sat
}
