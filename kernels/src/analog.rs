//! The analogue path: column currents as float products of input slice levels with per-cell
//! conductances, the g_min offset removed, then the ADC. With 1-bit DACs a read's currents are
//! the sum of the conductance rows whose input bit is on, added row by row in ascending order
//! (the same f32 result on every CPU); wider DACs take one small GEMM per crossbar and task.

use crate::adc::{float_adc, FloatAdc};
use crate::config::KernelError;
use crate::counts::Counts;
use crate::inputs::Prepared;
use crate::program::{Crossbar, Programmed, ReadNoise, Strip};
use crate::simd::Simd;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;

/// What every task shares.
struct Ctx<'a> {
    p: &'a Programmed,
    prep: &'a Prepared,
    levels: &'a [f32],
    /// Input bit-planes (1-bit DACs only), as the exact path uses them.
    planes: Option<&'a [u64]>,
    /// The product's `Simd` tier, for the strip sums.
    simd: Simd,
    /// Per (vector, tile, cycle): sum of applied levels and of their squares.
    sums: Vec<(f32, f32)>,
    adc: FloatAdc,
    gmin: f32,
    inv_step: f32,
    read: Option<ReadNoise>,
    /// Read noise of one cell in cell steps: mu * (g_max - g_min) / step = mu * cell_max.
    read_sd: f32,
}

pub(crate) fn run(
    p: &Programmed,
    prep: &Prepared,
    levels: &[f32],
    planes: Option<&[u64]>,
    read: Option<ReadNoise>,
    simd: Simd,
) -> Result<(Vec<i64>, Counts), KernelError> {
    let cfg = &p.cfg;
    let (k, cycles, rows) = (p.k, cfg.cycles(), cfg.rows);
    let tiles = p.row_tiles;
    let mut sums = vec![(0f32, 0f32); prep.batch * tiles * cycles];
    let words = cfg.words();
    sums.par_chunks_mut(tiles * cycles)
        .enumerate()
        .for_each(|(v, out)| {
            for b in 0..cycles {
                for t in 0..tiles {
                    out[t * cycles + b] = if let Some(pl) = planes {
                        // Levels 0/1: the sum and the sum of squares are the count of ones.
                        let m = &pl[((v * tiles + t) * cycles + b) * words..][..words];
                        let n = m.iter().map(|w| w.count_ones()).sum::<u32>() as f32;
                        (n, n)
                    } else {
                        let row = &levels[(v * cycles + b) * k..][..k];
                        let seg = &row[t * rows..k.min((t + 1) * rows)];
                        seg.iter()
                            .fold((0f32, 0f32), |(s, q), &x| (s + x, q + x * x))
                    };
                }
            }
        });
    let ctx = Ctx {
        p,
        prep,
        levels,
        planes,
        simd,
        sums,
        adc: float_adc(cfg.adc_mode, cfg.max_code()),
        gmin: cfg.g_min as f32,
        inv_step: (cfg.cell_max() as f64 / (cfg.g_max - cfg.g_min)) as f32,
        read,
        read_sd: read
            .map(|r| (r.mu * cfg.cell_max() as f64) as f32)
            .unwrap_or(0.0),
    };
    let fast = simd >= Simd::Avx2;
    // f32 has twice f64's lanes; f64 holds the sums for every configuration.
    let narrow = shift_add_exact_in_f32(&prep.cycle_weight, cfg.max_code());
    let parts: Vec<_> = p
        // Column currents of one task: at most about 1 Mi floats.
        .tasks(prep.batch, (1 << 20) / ((cfg.cols + 1) * cycles), 1)
        .into_par_iter()
        .map(|task| {
            let outs = p.xbars[task.0].outs;
            let mut block = vec![0i64; (task.2 - task.1) * outs];
            let mut cnt = Counts::default();
            match (fast, narrow) {
                // SAFETY: `simd::decide` names Avx2 or above only when the CPU reports AVX2, FMA
                // and F16C.
                (true, true) => unsafe { task_fast::<f32>(&ctx, task, &mut block, &mut cnt) },
                (true, false) => unsafe { task_fast::<f64>(&ctx, task, &mut block, &mut cnt) },
                (false, true) => task_body::<f32>(&ctx, task, &mut block, &mut cnt),
                (false, false) => task_body::<f64>(&ctx, task, &mut block, &mut cnt),
            }
            (task, block, cnt)
        })
        .collect();
    Ok(p.gather(prep.batch, parts))
}

/// Whether the shift-and-add of ADC codes (0..=max_code) over cycles weighted `cycle_weight`
/// (+-2^k) is exact in f32: every code times its weight is exact, so every partial sum is an
/// integer within sum_b |w_b| * max_code, which f32 holds exactly below 2^24 (ISAAC: 255 *
/// (2^16 - 1)). f64 holds it for every configuration (below 2^53).
pub fn shift_add_exact_in_f32(cycle_weight: &[i64], max_code: u32) -> bool {
    let bound = cycle_weight
        .iter()
        .map(|w| w.unsigned_abs() as f64)
        .sum::<f64>()
        * max_code as f64;
    bound < (1u64 << 24) as f64
}

/// The shift-and-add accumulator of one column: f32 or f64, chosen by the exactness bound.
trait Acc: Copy + Default + std::ops::AddAssign + Into<f64> {
    /// A cycle weight +-2^k, exact in either type.
    fn weight(w: i64) -> Self;
    /// w * code, exact: code is an integer and w a power of two.
    fn term(w: Self, code: f32) -> Self;
}
impl Acc for f32 {
    #[inline(always)]
    fn weight(w: i64) -> f32 {
        w as f32
    }
    #[inline(always)]
    fn term(w: f32, code: f32) -> f32 {
        w * code
    }
}
impl Acc for f64 {
    #[inline(always)]
    fn weight(w: i64) -> f64 {
        w as f64
    }
    #[inline(always)]
    fn term(w: f64, code: f32) -> f64 {
        w * code as f64
    }
}

#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma,f16c"))]
unsafe fn task_fast<A: Acc>(
    ctx: &Ctx,
    task: (usize, usize, usize),
    block: &mut [i64],
    cnt: &mut Counts,
) {
    task_body::<A>(ctx, task, block, cnt)
}

/// One column tile for vectors v0..v1: per row tile one GEMM [vectors*cycles, rows] x
/// [rows, cols+1], then per read: offset removal, read noise, ADC, flip, shift-and-add.
#[inline(always)]
fn task_body<A: Acc>(
    ctx: &Ctx,
    (ci, v0, v1): (usize, usize, usize),
    block: &mut [i64],
    cnt: &mut Counts,
) {
    let p = ctx.p;
    let cfg = &p.cfg;
    let (k, cycles, tiles) = (p.k, cfg.cycles(), p.row_tiles);
    let (cmax, flip) = (cfg.cell_max() as f32, cfg.flip);
    let (bpc, slices) = (cfg.bits_per_cell as usize, cfg.slices());
    let adc = ctx.adc;
    let outs = p.xbars[ci].outs;
    let m = (v1 - v0) * cycles;
    // The column currents, a few MB a task: one buffer per thread, reused, since a fresh one
    // costs page faults and zeroing every time. Every read's row is written before it is read.
    let mut cur = SCRATCH.with(|c| std::mem::take(&mut *c.borrow_mut()));
    if cur.len() < m * (cfg.cols + 1) {
        cur.resize(m * (cfg.cols + 1), 0.0);
    }
    // Shift-and-add in `A`, exact (see `run`); the unit column's total in f64.
    let mut colacc = vec![A::default(); cfg.cols];
    let mut noise = vec![0f32; cfg.cols + 1];
    let mut sat = 0u64;
    for t in 0..tiles {
        let xb = &p.xbars[t * p.col_tiles + ci];
        let (nc, cw) = (xb.cols, xb.cols + 1);
        if let Some(planes) = ctx.planes {
            add_rows(
                planes,
                (xb, cfg.words()),
                (t, tiles),
                (v0, v1),
                (cycles, ctx.simd),
                &mut cur,
            );
        } else {
            // SAFETY: pointers and strides describe in-bounds row-major blocks: levels rows
            // v0*cycles.. (stride K) from column row0, cond [rows][cw], cur [m][cw].
            unsafe {
                matrixmultiply::sgemm(
                    m,
                    xb.rows,
                    cw,
                    1.0,
                    ctx.levels.as_ptr().add(v0 * cycles * k + xb.row0),
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
        }
        for v in v0..v1 {
            let ca = &mut colacc[..nc];
            ca.fill(A::default());
            let mut f_sum = 0f64;
            // Read noise of crossbar i, vector v: its own stream, whatever the thread count.
            let mut rng = ctx.read.map(|r| {
                let mut g = ChaCha8Rng::seed_from_u64(r.seed);
                g.set_stream(((xb.index as u64) << 32) | v as u64);
                g
            });
            for b in 0..cycles {
                let row = &cur[((v - v0) * cycles + b) * cw..][..cw];
                let (xs, xq) = ctx.sums[(v * tiles + t) * cycles + b];
                let off = ctx.gmin * xs;
                let nz = &mut noise[..cw];
                if let Some(g) = rng.as_mut() {
                    let sd = ctx.read_sd * xq.sqrt();
                    for z in nz.iter_mut() {
                        let e: f32 = StandardNormal.sample(g);
                        *z = sd * e;
                    }
                }
                let steps = |c: usize| (row[c] - off) * ctx.inv_step + nz[c];
                let wb = ctx.prep.cycle_weight[b] as f64;
                let wa = A::weight(ctx.prep.cycle_weight[b]);
                // A flipped column reports cell_max * code(U) - code(S'); shift-and-add is
                // linear, so the unit-column part is summed once and applied at the fold.
                if flip {
                    let u = steps(nc);
                    sat += (u > adc.sat_above) as u64;
                    f_sum += wb * (cmax * adc.code(u)) as f64;
                }
                let mut sat_b = 0u32;
                if rng.is_some() {
                    for ((&i, &z), a) in row[..nc].iter().zip(&nz[..nc]).zip(ca.iter_mut()) {
                        let s = (i - off) * ctx.inv_step + z;
                        sat_b += (s > adc.sat_above) as u32;
                        *a += A::term(wa, adc.code(s));
                    }
                } else {
                    for (&i, a) in row[..nc].iter().zip(ca.iter_mut()) {
                        let s = (i - off) * ctx.inv_step;
                        sat_b += (s > adc.sat_above) as u32;
                        *a += A::term(wa, adc.code(s));
                    }
                }
                sat += sat_b as u64;
            }
            let orow = &mut block[(v - v0) * outs..][..outs];
            for (o, y) in orow.iter_mut().enumerate() {
                let cs = &ca[o * slices..][..slices];
                let fl = &xb.flip_f[o * slices..][..slices];
                *y += cs
                    .iter()
                    .zip(fl)
                    .enumerate()
                    .map(|(k, (&x, &f))| {
                        let x: f64 = x.into();
                        let val = if f != 0.0 { f_sum - x } else { x };
                        (val as i64) << (k * bpc)
                    })
                    .sum::<i64>();
            }
        }
        let reads = ((v1 - v0) * cycles) as u64;
        cnt.crossbar_reads += reads;
        cnt.dac_pulses += xb.rows as u64 * reads;
        cnt.adc_conversions += (nc as u64 + flip as u64) * reads;
        cnt.shift_adds += nc as u64 * reads;
    }
    cnt.adc_saturations = sat;
    SCRATCH.with(|c| *c.borrow_mut() = cur);
}

thread_local! {
    /// `task_body`'s column currents, kept between the tasks of a thread.
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// 1-bit DACs: each read's column currents, the sum over the rows whose input bit is on of
/// their conductance rows. The rows on are taken in ascending order into four partial sums in
/// turn (so four adds are in flight), combined as (p0 + p1) + (p2 + p3); every code path keeps
/// that order, so all give the same f32 numbers. `planes` is laid out as
/// `inputs::input_planes` makes it.
#[inline(always)]
fn add_rows(
    planes: &[u64],
    (xb, words): (&Crossbar, usize),
    (t, tiles): (usize, usize),
    (v0, v1): (usize, usize),
    (cycles, simd): (usize, Simd),
    cur: &mut [f32],
) {
    let cw = xb.cols + 1;
    let rows = xb.rows;
    // Reads in blocks, their row lists made once; then 32 columns at a time over the block,
    // so that the crossbar's 32-column strip of conductances stays in L1.
    const BLOCK: usize = 64;
    // 8 entries of slack after the last list: a byte's eight positions are stored whole.
    let mut lists = vec![0u16; BLOCK * rows + 8];
    let mut lens = [0usize; BLOCK];
    let reads: Vec<(usize, usize)> = (v0..v1)
        .flat_map(|v| (0..cycles).map(move |b| (v, b)))
        .collect();
    for (bi, block) in reads.chunks(BLOCK).enumerate() {
        for (j, &(v, b)) in block.iter().enumerate() {
            let m = &planes[((v * tiles + t) * cycles + b) * words..][..words];
            let l = &mut lists[j * rows..][..rows + 8];
            let n = row_list(m, l);
            // The strips below are read unchecked at these rows: `input_planes` sets bits only
            // for a tile's rows, so the last (largest) is below `rows`; checked once per read.
            assert!(
                n == 0 || usize::from(l[n - 1]) < rows,
                "a mask bit past the crossbar"
            );
            lens[j] = n;
        }
        let out0 = bi * BLOCK * cw;
        for c0 in (0..cw).step_by(32) {
            let n = (cw - c0).min(32);
            for j in 0..block.len() {
                let l = &lists[j * rows..][..lens[j]];
                let o = &mut cur[out0 + j * cw + c0..][..n];
                let st = &xb.strips[(c0 / 32) * rows..][..rows];
                #[cfg(target_arch = "x86_64")]
                match simd {
                    // SAFETY: the tier is Avx512 (resp. Avx2), so the CPU reported AVX-512F
                    // (resp. AVX2); every listed row is below xb.rows, the length of `st` (the
                    // lists ascend and their last entry was checked above).
                    Simd::Avx512 => unsafe { strip_avx512(l, st, o) },
                    Simd::Avx2 => unsafe { strip_avx2(l, st, o) },
                    Simd::Plain => strip(l, st, o),
                }
                #[cfg(not(target_arch = "x86_64"))]
                {
                    let _ = simd;
                    strip(l, st, o);
                }
            }
        }
    }
}

/// The rows whose bit is on in mask `m`, ascending, written to the front of `l`; returns how
/// many. A byte of the mask at a time: its set bits' positions from a table, all eight stored
/// (one vector store) and the count advanced by its popcount, so the cost is per byte, not per
/// row on. What lands past the count is overwritten by the next byte or the next list and never
/// read; `l` needs 8 entries of slack past the number of bits on.
fn row_list(m: &[u64], l: &mut [u16]) -> usize {
    let mut n = 0;
    for (w, &mw) in m.iter().enumerate() {
        for (i, byte) in mw.to_le_bytes().into_iter().enumerate() {
            let base = (w * 64 + i * 8) as u16;
            let pos = &BYTE_ROWS[byte as usize];
            for (d, &p) in l[n..n + 8].iter_mut().zip(pos) {
                *d = base + p as u16;
            }
            n += byte.count_ones() as usize;
        }
    }
    n
}

/// For each byte, the positions of its set bits in ascending order (then zeros).
static BYTE_ROWS: [[u8; 8]; 256] = {
    let mut t = [[0u8; 8]; 256];
    let mut b = 0;
    while b < 256 {
        let (mut n, mut i) = (0, 0);
        while i < 8 {
            if b & (1 << i) != 0 {
                t[b][n] = i as u8;
                n += 1;
            }
            i += 1;
        }
        b += 1;
    }
    t
};

/// The first out.len() columns of a strip, over the listed rows, summed in `add_rows`' order.
fn strip(list: &[u16], st: &[Strip], out: &mut [f32]) {
    let mut p = [[0f32; 32]; 4];
    for (i, &r) in list.iter().enumerate() {
        for (a, &x) in p[i % 4].iter_mut().zip(&st[r as usize].0) {
            *a += x;
        }
    }
    for (c, o) in out.iter_mut().enumerate() {
        *o = (p[0][c] + p[1][c]) + (p[2][c] + p[3][c]);
    }
}

/// `strip` with the 32 columns' four partial sums in eight registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn strip_avx512(list: &[u16], st: &[Strip], out: &mut [f32]) {
    use std::arch::x86_64::*;
    debug_assert!(list.iter().all(|&r| (r as usize) < st.len()));
    let n = out.len();
    let base = st.as_ptr() as *const f32;
    // Strips are 64-byte aligned, 32 floats a row.
    let ld = |r: u16, h: usize| _mm512_load_ps(base.add(r as usize * 32 + 16 * h));
    let z = _mm512_setzero_ps();
    let mut p = [[z; 2]; 4];
    let mut quads = list.chunks_exact(4);
    for q in &mut quads {
        for (pi, &r) in p.iter_mut().zip(q) {
            pi[0] = _mm512_add_ps(pi[0], ld(r, 0));
            pi[1] = _mm512_add_ps(pi[1], ld(r, 1));
        }
    }
    for (pi, &r) in p.iter_mut().zip(quads.remainder()) {
        pi[0] = _mm512_add_ps(pi[0], ld(r, 0));
        pi[1] = _mm512_add_ps(pi[1], ld(r, 1));
    }
    let o = out.as_mut_ptr();
    let [p0, p1, p2, p3] = p;
    for (h, ((a, b), (c, d))) in p0.iter().zip(&p1).zip(p2.iter().zip(&p3)).enumerate() {
        let s = _mm512_add_ps(_mm512_add_ps(*a, *b), _mm512_add_ps(*c, *d));
        let m = (n.saturating_sub(16 * h)).min(16);
        _mm512_mask_storeu_ps(o.add(16 * h), ((1u32 << m) - 1) as u16, s);
    }
}

/// `strip` on 256-bit registers: the 32 columns as two halves of 16, each half's four partial
/// sums in eight registers (the sixteen of AVX2 could not hold all 32 columns' and a load).
/// Each column is still summed over the same rows in the same order.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn strip_avx2(list: &[u16], st: &[Strip], out: &mut [f32]) {
    use std::arch::x86_64::*;
    debug_assert!(list.iter().all(|&r| (r as usize) < st.len()));
    let n = out.len();
    let base = st.as_ptr() as *const f32;
    for half in 0..2 {
        if n <= 16 * half {
            break;
        }
        // Strips are 64-byte aligned, 32 floats a row: each 8-float load is aligned.
        let ld = |r: u16, q: usize| _mm256_load_ps(base.add(r as usize * 32 + 16 * half + 8 * q));
        let z = _mm256_setzero_ps();
        let mut p = [[z; 2]; 4];
        // A half with at most 8 columns left (the unit column alone, often) loads one register.
        let two = n > 16 * half + 8;
        let mut quads = list.chunks_exact(4);
        for q in &mut quads {
            for (pi, &r) in p.iter_mut().zip(q) {
                pi[0] = _mm256_add_ps(pi[0], ld(r, 0));
                if two {
                    pi[1] = _mm256_add_ps(pi[1], ld(r, 1));
                }
            }
        }
        for (pi, &r) in p.iter_mut().zip(quads.remainder()) {
            pi[0] = _mm256_add_ps(pi[0], ld(r, 0));
            if two {
                pi[1] = _mm256_add_ps(pi[1], ld(r, 1));
            }
        }
        let [p0, p1, p2, p3] = p;
        for q in 0..2 {
            let s = _mm256_add_ps(_mm256_add_ps(p0[q], p1[q]), _mm256_add_ps(p2[q], p3[q]));
            let mut tmp = [0f32; 8];
            _mm256_storeu_ps(tmp.as_mut_ptr(), s);
            let c0 = 16 * half + 8 * q;
            let m = n.saturating_sub(c0).min(8);
            if m == 0 {
                break;
            }
            out[c0..c0 + m].copy_from_slice(&tmp[..m]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::row_list;
    use rand::{Rng, SeedableRng};

    /// The bit-by-bit list the table replaced.
    fn by_bits(m: &[u64]) -> Vec<u16> {
        let mut out = Vec::new();
        for (w, &mw) in m.iter().enumerate() {
            let mut x = mw;
            while x != 0 {
                out.push((w * 64 + x.trailing_zeros() as usize) as u16);
                x &= x - 1;
            }
        }
        out
    }

    /// Random, empty, full and top-bit-only masks of crossbars of 1 to 200 rows (bits only
    /// below the row count, as `input_planes` sets them): the same rows in the same order.
    #[test]
    fn row_lists_equal_the_bit_by_bit_lists() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for rows in [1usize, 3, 7, 8, 9, 63, 64, 65, 127, 128, 200] {
            let words = rows.div_ceil(64);
            let keep = |w: usize| match rows - w * 64 {
                r if r >= 64 => u64::MAX,
                r => (1u64 << r) - 1,
            };
            let mut masks: Vec<Vec<u64>> = vec![
                vec![0; words],
                (0..words).map(keep).collect(),
                (0..words)
                    .map(|w| {
                        if w == words - 1 {
                            1 << ((rows - 1) % 64)
                        } else {
                            0
                        }
                    })
                    .collect(),
            ];
            for _ in 0..200 {
                masks.push((0..words).map(|w| rng.gen::<u64>() & keep(w)).collect());
            }
            for m in masks {
                let mut l = vec![0u16; rows + 8];
                let n = row_list(&m, &mut l);
                assert_eq!(l[..n], by_bits(&m)[..], "rows {rows}, mask {m:x?}");
            }
        }
    }
}
