//! The noiseless path: column sums as popcounts of input bit-planes against cell bit-planes,
//! S = sum_{d,j} 2^(d+j) popcount(x_d & cell_j), then the ADC on every column of every read.

use crate::adc::{CalAdc, ExactAdc, IntAdc};
use crate::counts::Counts;
use crate::inputs::Prepared;
use crate::program::Programmed;
use crate::AdcMode;
use rayon::prelude::*;

pub(crate) fn run(p: &Programmed, prep: &Prepared, planes: &[u64]) -> (Vec<i64>, Counts) {
    let max = p.cfg.max_code();
    match p.cfg.adc_mode {
        AdcMode::Exact => run_with(p, prep, planes, &ExactAdc { max }),
        AdcMode::Calibrated { full_scale } => run_with(
            p,
            prep,
            planes,
            &CalAdc {
                inv_lsb: max as f64 / full_scale,
                max,
                full_scale,
            },
        ),
    }
}

fn run_with<A: IntAdc>(p: &Programmed, prep: &Prepared, planes: &[u64], adc: &A) -> (Vec<i64>, Counts) {
    let level = simd_level();
    let parts: Vec<_> = p
        .tasks(prep.batch)
        .into_par_iter()
        .map(|task| {
            let (ci, v0, v1) = task;
            let outs = p.xbars[ci].outs;
            let mut block = vec![0i64; (v1 - v0) * outs];
            let mut c = Counts::default();
            // SAFETY: each variant is only called when the CPU reports its features.
            unsafe {
                match level {
                    Simd::Avx512 => task_avx512(p, prep, planes, adc, task, &mut block, &mut c),
                    Simd::Popcnt => task_popcnt(p, prep, planes, adc, task, &mut block, &mut c),
                    Simd::Plain => task_body(p, prep, planes, adc, task, &mut block, &mut c),
                }
            }
            (task, block, c)
        })
        .collect();
    p.gather(prep.batch, parts)
}

#[derive(Clone, Copy)]
enum Simd {
    Avx512,
    Popcnt,
    Plain,
}

fn simd_level() -> Simd {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512vpopcntdq")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("popcnt")
        {
            return Simd::Avx512;
        }
        if is_x86_feature_detected!("popcnt") && is_x86_feature_detected!("avx2") {
            return Simd::Popcnt;
        }
    }
    Simd::Plain
}

type Task = (usize, usize, usize);

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vpopcntdq,avx512bw,avx512vl,avx2,popcnt")]
unsafe fn task_avx512<A: IntAdc>(
    p: &Programmed, prep: &Prepared, planes: &[u64], adc: &A, t: Task, out: &mut [i64], c: &mut Counts,
) {
    task_body(p, prep, planes, adc, t, out, c)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn task_popcnt<A: IntAdc>(
    p: &Programmed, prep: &Prepared, planes: &[u64], adc: &A, t: Task, out: &mut [i64], c: &mut Counts,
) {
    task_body(p, prep, planes, adc, t, out, c)
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn task_avx512<A: IntAdc>(
    p: &Programmed, prep: &Prepared, planes: &[u64], adc: &A, t: Task, out: &mut [i64], c: &mut Counts,
) {
    task_body(p, prep, planes, adc, t, out, c)
}
#[cfg(not(target_arch = "x86_64"))]
unsafe fn task_popcnt<A: IntAdc>(
    p: &Programmed, prep: &Prepared, planes: &[u64], adc: &A, t: Task, out: &mut [i64], c: &mut Counts,
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
    let mut s_buf = vec![0u32; cfg.cols];
    let mut acc_buf = vec![0i64; cfg.cols];
    let mut sat = 0u64;
    let outs = p.xbars[ci].outs;
    for v in v0..v1 {
        let orow = &mut out[(v - v0) * outs..][..outs];
        for t in 0..p.row_tiles {
            let xb = &p.xbars[t * p.col_tiles + ci];
            let nc = xb.cols;
            let s = &mut s_buf[..nc];
            let colacc = &mut acc_buf[..nc];
            colacc.fill(0);
            let xp = &planes[v * per_vec + t * per_tile..][..per_tile];
            for b in 0..cycles {
                let xpb = &xp[b * d * words..][..d * words];
                s.fill(0);
                for dd in 0..d {
                    for j in 0..bpc {
                        for w in 0..words {
                            let xw = xpb[dd * words + w];
                            let pl = &xb.planes[(j * words + w) * nc..][..nc];
                            let sh = (dd + j) as u32;
                            for (sc, &pw) in s.iter_mut().zip(pl) {
                                *sc += (xw & pw).count_ones() << sh;
                            }
                        }
                    }
                }
                let fu = if flip {
                    // The unit column: sum of the applied slices, through the same ADC.
                    let mut u = 0u32;
                    for dd in 0..d {
                        for w in 0..words {
                            u += xpb[dd * words + w].count_ones() << dd;
                        }
                    }
                    sat += adc.saturated(u) as u64;
                    cmax * adc.code(u) as i64
                } else {
                    0
                };
                let wb = prep.cycle_weight[b];
                let mut sat_b = 0u32;
                for ((&sc, a), &f) in s.iter().zip(colacc.iter_mut()).zip(&xb.flip) {
                    let code = adc.code(sc) as i64;
                    sat_b += adc.saturated(sc) as u32;
                    *a += wb * (code + f * (fu - 2 * code));
                }
                sat += sat_b as u64;
            }
            let reads = cycles as u64;
            cnt.crossbar_reads += reads;
            cnt.dac_pulses += xb.rows as u64 * reads;
            cnt.adc_conversions += (nc as u64 + flip as u64) * reads;
            cnt.shift_adds += nc as u64 * reads;
            for (o, y) in orow.iter_mut().enumerate() {
                let cs = &colacc[o * slices..][..slices];
                let mut a = 0i64;
                for (k, &x) in cs.iter().enumerate() {
                    a += x << (k * bpc);
                }
                *y += a;
            }
        }
    }
    cnt.adc_saturations += sat;
}
