//! The analogue path: column currents as float products of input slice levels with per-cell
//! conductances (one small GEMM per crossbar and task), the g_min offset removed, then the ADC.

use crate::adc::float_adc;
use crate::config::KernelError;
use crate::counts::Counts;
use crate::inputs::Prepared;
use crate::program::{Programmed, ReadNoise};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

pub(crate) fn run(
    p: &Programmed,
    prep: &Prepared,
    levels: &[f32],
    read: Option<ReadNoise>,
) -> Result<(Vec<i64>, Counts), KernelError> {
    let cfg = &p.cfg;
    let (k, cycles, rows) = (p.k, cfg.cycles(), cfg.rows);
    let tiles = p.row_tiles;
    // Per (vector, tile, cycle): sum of applied levels (offset removal) and of their squares
    // (read-noise spread).
    let mut sums = vec![(0f32, 0f32); prep.batch * tiles * cycles];
    sums.par_chunks_mut(tiles * cycles)
        .enumerate()
        .for_each(|(v, out)| {
            for b in 0..cycles {
                let row = &levels[(v * cycles + b) * k..][..k];
                for t in 0..tiles {
                    let seg = &row[t * rows..k.min((t + 1) * rows)];
                    out[t * cycles + b] = seg.iter().fold((0f32, 0f32), |(s, q), &x| (s + x, q + x * x));
                }
            }
        });
    let adc = float_adc(cfg.adc_mode, cfg.max_code());
    let gmin = cfg.g_min as f32;
    let inv_step = (cfg.cell_max() as f64 / (cfg.g_max - cfg.g_min)) as f32;
    // Read noise per cell, in cell steps: mu * (g_max - g_min) / step = mu * cell_max.
    let read_sd = read.map(|r| (r.mu * cfg.cell_max() as f64) as f32);
    let (cmax, flip) = (cfg.cell_max() as i64, cfg.flip);
    let (bpc, slices) = (cfg.bits_per_cell as usize, cfg.slices());
    let parts: Vec<_> = p
        .tasks(prep.batch)
        .into_par_iter()
        .map(|task| {
            let (ci, v0, v1) = task;
            let outs = p.xbars[ci].outs;
            let mut block = vec![0i64; (v1 - v0) * outs];
            let mut cnt = Counts::default();
            let m = (v1 - v0) * cycles;
            let mut cur = vec![0f32; m * (cfg.cols + 1)];
            let mut colacc = vec![0i64; cfg.cols];
            let mut sat = 0u64;
            for t in 0..tiles {
                let xb = &p.xbars[t * p.col_tiles + ci];
                let (nc, cw) = (xb.cols, xb.cols + 1);
                // SAFETY: the pointers and strides describe in-bounds row-major blocks:
                // levels[(v0*cycles ..), row0 .. row0+rows] (row stride K), cond [rows][cw],
                // cur [m][cw].
                unsafe {
                    matrixmultiply::sgemm(
                        m,
                        xb.rows,
                        cw,
                        1.0,
                        levels.as_ptr().add(v0 * cycles * k + xb.row0),
                        k as isize,
                        1,
                        xb.cond.as_ptr(),
                        cw as isize,
                        1,
                        0.0,
                        cur.as_mut_ptr(),
                        cw as isize,
                        1,
                    );
                }
                for v in v0..v1 {
                    let ca = &mut colacc[..nc];
                    ca.fill(0);
                    let mut rng = read.map(|r| {
                        let mut g = ChaCha8Rng::seed_from_u64(r.seed);
                        g.set_stream(((xb.index as u64) << 32) | v as u64);
                        g
                    });
                    for b in 0..cycles {
                        let row = &cur[((v - v0) * cycles + b) * cw..][..cw];
                        let (xs, xq) = sums[(v * tiles + t) * cycles + b];
                        let off = gmin * xs;
                        let sd = read_sd.map(|s| s * xq.sqrt()).unwrap_or(0.0);
                        let mut to_steps = |i: f32| -> f32 {
                            let s = (i - off) * inv_step;
                            match rng.as_mut() {
                                Some(g) => {
                                    let z: f32 = StandardNormal.sample(g);
                                    s + sd * z
                                }
                                None => s,
                            }
                        };
                        let fu = if flip {
                            let u = to_steps(row[nc]);
                            sat += (u > adc.sat_above) as u64;
                            cmax * adc.code(u) as i64
                        } else {
                            0
                        };
                        let wb = prep.cycle_weight[b];
                        for ((&i, a), &f) in row[..nc].iter().zip(ca.iter_mut()).zip(&xb.flip) {
                            let s = to_steps(i);
                            sat += (s > adc.sat_above) as u64;
                            let code = adc.code(s) as i64;
                            *a += wb * (code + f * (fu - 2 * code));
                        }
                    }
                    let orow = &mut block[(v - v0) * outs..][..outs];
                    for (o, y) in orow.iter_mut().enumerate() {
                        let cs = &ca[o * slices..][..slices];
                        *y += cs.iter().enumerate().map(|(k, &x)| x << (k * bpc)).sum::<i64>();
                    }
                }
                let reads = ((v1 - v0) * cycles) as u64;
                cnt.crossbar_reads += reads;
                cnt.dac_pulses += xb.rows as u64 * reads;
                cnt.adc_conversions += (nc as u64 + flip as u64) * reads;
                cnt.shift_adds += nc as u64 * reads;
            }
            cnt.adc_saturations = sat;
            (task, block, cnt)
        })
        .collect();
    Ok(p.gather(prep.batch, parts))
}
