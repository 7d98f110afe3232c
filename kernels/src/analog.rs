//! The analogue path: column currents as float products of input slice levels with per-cell
//! conductances, the g_min offset removed, then the ADC. With 1-bit DACs a read's currents are
//! the sum of the conductance rows whose input bit is on, taken four rows at a time from tables
//! of their subset sums (`add_rows`; the same f32 result on every CPU); wider DACs take one
//! small GEMM per crossbar and task.

use crate::adc::{float_adc, FloatAdc};
use crate::config::KernelError;
use crate::counts::Counts;
use crate::inputs::Prepared;
use crate::program::{Crossbar, Programmed, ReadNoise};
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
    /// Every read's group list, made once for all column tiles where that fits `LIST_BYTES`.
    lists: Option<Lists>,
    /// The product's `Simd` tier, for the table sums.
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
    let lists = planes.and_then(|pl| Lists::new(p, pl, prep.batch));
    let ctx = Ctx {
        p,
        prep,
        levels,
        planes,
        lists,
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
pub(crate) fn shift_add_exact_in_f32(cycle_weight: &[i64], max_code: u32) -> bool {
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
                (planes, ctx.lists.as_ref()),
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

/// 16 floats, one cache line: one entry of a crossbar's subset-sum tables.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([f32; 16]);

/// Rows per table group: the 2^4 subset sums of four rows' conductances.
const GROUP: usize = 4;

/// 1-bit DACs: each read's column currents, the sum over the rows whose input bit is on of
/// their conductance rows, by the method of four Russians. Rows go in groups of four; for each
/// group and 16-column half-strip a table holds the 16 sums of its subsets (built in
/// `build_tables`), so a read adds one table line per group whose nibble of the mask is not
/// zero, where adding row by row took one line per row on (about twice as many at half the bits
/// on, and never fewer). The groups on are taken in ascending order into four partial sums in
/// turn (four adds in flight), combined as (p0 + p1) + (p2 + p3); every code path keeps that
/// order and builds the same tables, so all give the same f32 numbers. `planes` is laid out as
/// `inputs::input_planes` makes it.
#[inline(always)]
fn add_rows(
    (planes, pre): (&[u64], Option<&Lists>),
    (xb, words): (&Crossbar, usize),
    (t, tiles): (usize, usize),
    (v0, v1): (usize, usize),
    (cycles, simd): (usize, Simd),
    cur: &mut [f32],
) {
    let cw = xb.cols + 1;
    let groups = xb.rows.div_ceil(GROUP);
    let halves = cw.div_ceil(16);
    let mut tab = TABLES.with(|c| std::mem::take(&mut *c.borrow_mut()));
    build_tables(xb, groups, halves, &mut tab);
    // Reads in blocks, their group lists made once (or taken from `pre`); then 16 columns at a
    // time over the block, so that the half-strip's table (32 KiB for 128 rows) stays in L1.
    const BLOCK: usize = 64;
    // A list has at most `groups` entries and one of slack: `group_list` stores before it counts.
    // Only where the lists were not made beforehand.
    let mut lists = if pre.is_none() {
        vec![0u16; BLOCK * (groups + 1)]
    } else {
        Vec::new()
    };
    let mut lens = [0usize; BLOCK];
    let reads: Vec<(usize, usize)> = (v0..v1)
        .flat_map(|v| (0..cycles).map(move |b| (v, b)))
        .collect();
    for (bi, block) in reads.chunks(BLOCK).enumerate() {
        let mut ls: [&[u16]; BLOCK] = [&[]; BLOCK];
        if let Some(pre) = pre {
            for (j, &(v, b)) in block.iter().enumerate() {
                ls[j] = pre.get((v * tiles + t) * cycles + b);
            }
        } else {
            for (j, &(v, b)) in block.iter().enumerate() {
                let m = &planes[((v * tiles + t) * cycles + b) * words..][..words];
                let l = &mut lists[j * (groups + 1)..][..groups + 1];
                lens[j] = checked_list(m, l, groups);
            }
            for (j, l) in ls.iter_mut().enumerate().take(block.len()) {
                *l = &lists[j * (groups + 1)..][..lens[j]];
            }
        }
        let out0 = bi * BLOCK * cw;
        for h in 0..halves {
            let c0 = 16 * h;
            let n = (cw - c0).min(16);
            let th = &tab[h * groups * 16..][..groups * 16];
            for (j, &l) in ls.iter().enumerate().take(block.len()) {
                let o = &mut cur[out0 + j * cw + c0..][..n];
                #[cfg(target_arch = "x86_64")]
                match simd {
                    // SAFETY: the tier is Avx512 (resp. Avx2), so the CPU reported AVX-512F
                    // (resp. AVX2); every listed entry is below groups * 16, the length of `th`
                    // (the lists ascend and their last entry was checked by `checked_list`).
                    Simd::Avx512 => unsafe { lines_avx512(l, th, o) },
                    Simd::Avx2 => unsafe { lines_avx2(l, th, o) },
                    Simd::Plain => lines(l, th, o),
                }
                #[cfg(not(target_arch = "x86_64"))]
                {
                    let _ = simd;
                    lines(l, th, o);
                }
            }
        }
    }
    TABLES.with(|c| *c.borrow_mut() = tab);
}

thread_local! {
    /// `add_rows`' subset-sum tables, kept between the crossbars of a thread.
    static TABLES: std::cell::RefCell<Vec<Line>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The subset-sum tables of a crossbar: for half-strip h (columns 16h..16h+16), group g (rows
/// 4g..4g+4) and nibble p, line (h * groups + g) * 16 + p holds the sum of the conductance rows
/// 4g + i for the bits i set in p, made as line(p without its lowest bit) + row(lowest bit), so
/// every entry has one fixed order of adds. Rows past the crossbar count as zero (no mask bit
/// names them). Inlined, so that it is compiled for the caller's vector tier.
#[inline(always)]
fn build_tables(xb: &Crossbar, groups: usize, halves: usize, tab: &mut Vec<Line>) {
    let zero = [0f32; 16];
    tab.clear();
    tab.resize(halves * groups * 16, Line(zero));
    for h in 0..halves {
        for g in 0..groups {
            let e = &mut tab[(h * groups + g) * 16..][..16];
            for p in 1..16usize {
                let r = GROUP * g + p.trailing_zeros() as usize;
                let src = match xb.strips.get((h / 2) * xb.rows + r) {
                    Some(s) if r < xb.rows => &s.0[16 * (h % 2)..][..16],
                    _ => &zero[..],
                };
                let prev = e[p & (p - 1)].0;
                for ((d, &a), &b) in e[p].0.iter_mut().zip(&prev).zip(src) {
                    *d = a + b;
                }
            }
        }
    }
}

/// Every read's group list of a layer run, [(vector * tiles + tile) * cycles + cycle], made once
/// where a crossbar row has more than one column tile (each tile's task would make it again).
struct Lists {
    entries: Vec<u16>,
    lens: Vec<u16>,
    /// Entries per read: the groups of a full crossbar and one of slack.
    stride: usize,
}

/// At most this much memory for `Lists` (a layer of 3136 vectors, five row tiles and 16 cycles
/// takes 17 MB); past it each task makes its own lists, which gives the same lists.
const LIST_BYTES: usize = 64 << 20;

impl Lists {
    fn new(p: &Programmed, planes: &[u64], batch: usize) -> Option<Lists> {
        let (tiles, cycles, words) = (p.row_tiles, p.cfg.cycles(), p.cfg.words());
        let stride = p.cfg.rows.div_ceil(GROUP) + 1;
        let per_vector = tiles * cycles;
        if p.col_tiles < 2 || batch * per_vector * (stride + 1) * 2 > LIST_BYTES {
            return None;
        }
        let mut entries = vec![0u16; batch * per_vector * stride];
        let mut lens = vec![0u16; batch * per_vector];
        entries
            .par_chunks_mut(per_vector * stride)
            .zip(lens.par_chunks_mut(per_vector))
            .enumerate()
            .for_each(|(v, (e, ln))| {
                for (i, n) in ln.iter_mut().enumerate() {
                    let groups = p.xbars[(i / cycles) * p.col_tiles].rows.div_ceil(GROUP);
                    let m = &planes[(v * per_vector + i) * words..][..words];
                    *n = checked_list(m, &mut e[i * stride..][..stride], groups) as u16;
                }
            });
        Some(Lists {
            entries,
            lens,
            stride,
        })
    }

    fn get(&self, read: usize) -> &[u16] {
        &self.entries[read * self.stride..][..usize::from(self.lens[read])]
    }
}

/// `group_list`, checked: the tables are read unchecked at these entries, and `input_planes`
/// sets bits only for a tile's rows, so the last (largest) entry is within the crossbar's
/// `groups`; checked once per read.
fn checked_list(m: &[u64], l: &mut [u16], groups: usize) -> usize {
    let n = group_list(m, l);
    assert!(
        n == 0 || usize::from(l[n - 1]) < groups * 16,
        "a mask bit past the crossbar"
    );
    n
}

/// The table entries (group * 16 + nibble) of the groups whose nibble of mask `m` is not zero,
/// ascending, written to the front of `l`; returns how many. Branch-free within a word: every
/// nibble is stored and the count advanced only past the nonzero ones, so `l` needs one entry of
/// slack past that count.
fn group_list(m: &[u64], l: &mut [u16]) -> usize {
    let mut n = 0;
    for (w, &mw) in m.iter().enumerate() {
        // ReLU activations' high bit-planes leave whole words empty.
        if mw == 0 {
            continue;
        }
        let mut x = mw;
        for i in 0..64 / GROUP {
            let nib = (x & 15) as u16;
            l[n] = ((w * 64 / GROUP + i) as u16) * 16 + nib;
            n += (nib != 0) as usize;
            x >>= GROUP;
        }
    }
    n
}

/// The first out.len() columns of a half-strip, over the listed lines, summed in `add_rows'`
/// order.
fn lines(list: &[u16], tab: &[Line], out: &mut [f32]) {
    let mut p = [[0f32; 16]; 4];
    for (i, &e) in list.iter().enumerate() {
        for (a, &x) in p[i % 4].iter_mut().zip(&tab[e as usize].0) {
            *a += x;
        }
    }
    for (c, o) in out.iter_mut().enumerate() {
        *o = (p[0][c] + p[1][c]) + (p[2][c] + p[3][c]);
    }
}

/// `lines` with the four partial sums in four registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn lines_avx512(list: &[u16], tab: &[Line], out: &mut [f32]) {
    use std::arch::x86_64::*;
    debug_assert!(list.iter().all(|&e| (e as usize) < tab.len()));
    let base = tab.as_ptr() as *const f32;
    // Lines are 64-byte aligned.
    let ld = |e: u16| _mm512_load_ps(base.add(e as usize * 16));
    let mut p = [_mm512_setzero_ps(); 4];
    let mut quads = list.chunks_exact(4);
    for q in &mut quads {
        for (pi, &e) in p.iter_mut().zip(q) {
            *pi = _mm512_add_ps(*pi, ld(e));
        }
    }
    for (pi, &e) in p.iter_mut().zip(quads.remainder()) {
        *pi = _mm512_add_ps(*pi, ld(e));
    }
    let s = _mm512_add_ps(_mm512_add_ps(p[0], p[1]), _mm512_add_ps(p[2], p[3]));
    let m = out.len().min(16);
    _mm512_mask_storeu_ps(out.as_mut_ptr(), ((1u32 << m) - 1) as u16, s);
}

/// `lines` on 256-bit registers: each partial sum in two.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn lines_avx2(list: &[u16], tab: &[Line], out: &mut [f32]) {
    use std::arch::x86_64::*;
    debug_assert!(list.iter().all(|&e| (e as usize) < tab.len()));
    let base = tab.as_ptr() as *const f32;
    // Lines are 64-byte aligned: each 8-float load is aligned.
    let ld = |e: u16, q: usize| _mm256_load_ps(base.add(e as usize * 16 + 8 * q));
    let z = _mm256_setzero_ps();
    let mut p = [[z; 2]; 4];
    let mut quads = list.chunks_exact(4);
    for q in &mut quads {
        for (pi, &e) in p.iter_mut().zip(q) {
            pi[0] = _mm256_add_ps(pi[0], ld(e, 0));
            pi[1] = _mm256_add_ps(pi[1], ld(e, 1));
        }
    }
    for (pi, &e) in p.iter_mut().zip(quads.remainder()) {
        pi[0] = _mm256_add_ps(pi[0], ld(e, 0));
        pi[1] = _mm256_add_ps(pi[1], ld(e, 1));
    }
    let [p0, p1, p2, p3] = p;
    // Masked stores: a copy of a variable length would be a call to memmove per read.
    let n = out.len() as i32;
    let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let o = out.as_mut_ptr();
    for q in 0..2 {
        // The second half only where it holds columns, so the pointer stays inside `out`.
        if n <= 8 * q as i32 {
            break;
        }
        let s = _mm256_add_ps(_mm256_add_ps(p0[q], p1[q]), _mm256_add_ps(p2[q], p3[q]));
        let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - 8 * q as i32), lane);
        _mm256_maskstore_ps(o.add(8 * q), mask, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Random, empty, full and top-bit-only masks of crossbars of 1 to 200 rows (bits only
    /// below the row count, as `input_planes` sets them).
    fn masks(rows: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<u64>> {
        let words = rows.div_ceil(64);
        let keep = |w: usize| match rows - w * 64 {
            r if r >= 64 => u64::MAX,
            r => (1u64 << r) - 1,
        };
        let mut out: Vec<Vec<u64>> = vec![
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
        for i in 0..200 {
            // Sparse as well as dense masks, as ReLU activations' high bit-planes are.
            let sparse = i % 2 == 0;
            out.push(
                (0..words)
                    .map(|w| {
                        let x = rng.gen::<u64>();
                        (if sparse {
                            x & rng.gen::<u64>() & rng.gen::<u64>()
                        } else {
                            x
                        }) & keep(w)
                    })
                    .collect(),
            );
        }
        out
    }

    /// The lists name exactly the nonzero nibbles, ascending, each with its value.
    #[test]
    fn group_lists_name_the_nonzero_nibbles() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for rows in [1usize, 3, 4, 5, 7, 8, 9, 63, 64, 65, 127, 128, 200] {
            let groups = rows.div_ceil(GROUP);
            for m in masks(rows, &mut rng) {
                let want: Vec<u16> = (0..m.len() * 16)
                    .filter_map(|g| {
                        let nib = (m[g / 16] >> (4 * (g % 16))) & 15;
                        (nib != 0).then_some((g * 16) as u16 + nib as u16)
                    })
                    .collect();
                let mut l = vec![0u16; groups + 1];
                let n = group_list(&m, &mut l);
                assert_eq!(l[..n], want[..], "rows {rows}, mask {m:x?}");
            }
        }
    }

    /// Each table line is its subset's sum of conductance rows; every tier's read sums, with the
    /// lists made per task or beforehand, equal the portable code's bit for bit and the f64 sum
    /// of the rows on to f32 rounding, for
    /// crossbars whose rows are not a multiple of four and whose columns end mid-strip.
    #[test]
    fn read_sums_are_the_rows_on() {
        let cfg = crate::config::XbarConfig::isaac();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for (k, n) in [(128usize, 16usize), (130, 20), (61, 3)] {
            let w: Vec<i64> = (0..k * n).map(|_| rng.gen_range(-30000..30000)).collect();
            let p = Programmed::new(&cfg, &w, k, n)
                .unwrap()
                .program_conductances(0.05, 11)
                .unwrap();
            for xb in &p.xbars {
                let (cw, rows) = (xb.cols + 1, xb.rows);
                let g = |r: usize, c: usize| xb.strips[(c / 32) * rows + r].0[c % 32];
                let ms = masks(rows, &mut rng);
                let words = cfg.words();
                let planes: Vec<u64> = ms
                    .iter()
                    .flat_map(|m| (0..words).map(|w| m.get(w).copied().unwrap_or(0)))
                    .collect();
                let reads = ms.len();
                let mut want = vec![0f32; reads * cw];
                let mut tiers = vec![Simd::Plain];
                let best = crate::simd::decide().unwrap();
                if best >= Simd::Avx2 {
                    tiers.push(Simd::Avx2);
                }
                if best >= Simd::Avx512 {
                    tiers.push(Simd::Avx512);
                }
                for (ti, &simd) in tiers.iter().enumerate() {
                    let mut cur = vec![f32::NAN; reads * cw];
                    // One vector of `reads` cycles, one row tile.
                    add_rows(
                        (&planes, None),
                        (xb, words),
                        (0, 1),
                        (0, 1),
                        (reads, simd),
                        &mut cur,
                    );
                    // The same with the lists made beforehand, as `Lists::new` makes them.
                    let stride = cfg.rows.div_ceil(GROUP) + 1;
                    let mut pre = Lists {
                        entries: vec![0; reads * stride],
                        lens: vec![0; reads],
                        stride,
                    };
                    for (j, m) in planes.chunks(words).enumerate() {
                        let l = &mut pre.entries[j * stride..][..stride];
                        pre.lens[j] = checked_list(m, l, rows.div_ceil(GROUP)) as u16;
                    }
                    let mut cur2 = vec![f32::NAN; reads * cw];
                    add_rows(
                        (&planes, Some(&pre)),
                        (xb, words),
                        (0, 1),
                        (0, 1),
                        (reads, simd),
                        &mut cur2,
                    );
                    assert_eq!(cur, cur2, "lists made beforehand");
                    if ti == 0 {
                        want = cur;
                        for (j, m) in ms.iter().enumerate() {
                            for c in 0..cw {
                                let exact: f64 = (0..rows)
                                    .filter(|&r| m[r / 64] >> (r % 64) & 1 == 1)
                                    .map(|r| g(r, c) as f64)
                                    .sum();
                                let got = want[j * cw + c] as f64;
                                assert!(
                                    (got - exact).abs() <= 1e-5 * exact.abs().max(1e-3),
                                    "k {k}, read {j}, column {c}: {got} vs {exact}"
                                );
                            }
                        }
                    } else {
                        assert_eq!(cur, want, "{simd:?} against the portable code");
                    }
                }
            }
        }
    }
}
