//! A K x N integer weight matrix programmed onto crossbars: bias, slice, flip, bit-planes and
//! (for the analogue path) conductances with optional cell noise; and the split of a product
//! into parallel work units and the gathering of their results, which every path shares.
//!
//! Weight w (signed, weight_bits) is stored as u = w + 2^(weight_bits-1) in slices of
//! bits_per_cell, slice s = (u >> s*bits_per_cell) & cell_max; with flipping, a column whose
//! stored sum exceeds half of rows * cell_max stores cell_max - level instead.

use crate::config::{fail, KernelError, XbarConfig};
use crate::counts::Counts;
use crate::product::{self, Linear};
use crate::simd;
use nestevo_device::programming::Programming;
use nestevo_device::{program_crossbar, CellLaw, Cells};
use rayon::prelude::*;
use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

/// One programmed crossbar: rows [row0, row0+rows) of K, outputs [out0, out0+outs) of N.
pub(crate) struct Crossbar {
    pub index: usize,
    pub row0: usize,
    pub rows: usize,
    pub outs: usize,
    /// Used data columns (outs * slices); the unit column is extra.
    pub cols: usize,
    /// The largest sum of stored levels of a data column (after flipping).
    pub max_col_sum: u64,
    /// Data columns rounded up to a multiple of 8 (the bit-plane kernels work 8 columns at a time).
    pub cols_pad: usize,
    /// 0 or -1 (all ones) per padded column: the flip flags as a select mask.
    pub flip_mask: Vec<i64>,
    /// The flip flags as 0.0 / 1.0 (analogue path).
    pub flip_f: Vec<f32>,
    /// The crossbar's signed weights, [row][out] (`weight_bits` <= 16): what the stored levels
    /// are made from, at a quarter of their bytes for 2-bit cells.
    pub tile: Vec<i16>,
    /// Weight slices per output, the offset-binary bias 2^(weight_bits-1), bits per cell and
    /// the largest level (the recipe of `levels` from `tile`).
    pub slices: usize,
    pub bias: i64,
    pub cmax: u32,
    /// Stored levels, [row][col], built on first use: the exact product never reads them, and
    /// the analogue path writes them straight into its own buffer (`write_levels`).
    pub levels: OnceLock<Vec<u8>>,
    /// Row words of the full crossbar height, and bits per cell (the shape of `planes`).
    pub words: usize,
    pub bpc: usize,
    /// Per cell bit j and row word w, the rows whose cell has bit j set: [(j*words + w)*cols_pad + c].
    /// Built on first use: the exact product and the analogue path never read them.
    pub planes: OnceLock<Vec<u64>>,
    /// Conductances in uS, [row][cols + 1]; the last column is the unit column (level 1).
    /// Kept for wider DACs only: the 1-bit-DAC path reads `strips` (`Programmed::conductances`
    /// gives either).
    pub cond: Vec<f32>,
    /// The same conductances in strips of 32 columns (the last zero-padded), each strip's rows
    /// one aligned 128-byte line pair: [strip][row]. What the 1-bit-DAC analogue kernel reads.
    pub strips: Vec<Strip>,
    /// Row lists for the bit-sliced path, built on its first use.
    pub lists: OnceLock<RowLists>,
}

/// Per column and cell bit j, the rows whose cell has bit j set, or, when those are more than
/// half the rows, the rows whose cell has it clear (the count is then all rows' count minus
/// theirs: no list is longer than half the crossbar). Every list is padded to a multiple of 8
/// with the index `rows` (a zero input row), as the bit-sliced counter wants.
pub(crate) struct RowLists {
    idx: Vec<u16>,
    /// Start of list (col * bits_per_cell + j) in `idx`; one more at the end.
    off: Vec<u32>,
    /// Whether list (col * bits_per_cell + j) holds the complement.
    comp: Vec<bool>,
    /// Whether any list does.
    pub any_comp: bool,
    /// All rows, padded the same way (the unit column).
    pub all: Vec<u16>,
}

impl RowLists {
    fn new(xb: &Crossbar, bpc: usize) -> Self {
        let pad = |v: &mut Vec<u16>| {
            while !v.len().is_multiple_of(8) {
                v.push(xb.rows as u16);
            }
        };
        // Row words as programmed (the full crossbar height, also for a partial row tile).
        let (words, planes) = (xb.words, xb.planes());
        let mut idx = Vec::new();
        let mut off = vec![0u32];
        let mut comp = Vec::new();
        for col in 0..xb.cols {
            for j in 0..bpc {
                let plane = |w: usize| planes[(j * words + w) * xb.cols_pad + col];
                let set: usize = (0..words).map(|w| plane(w).count_ones() as usize).sum();
                let flip = 2 * set > xb.rows;
                for w in 0..words {
                    let mut m = plane(w);
                    if flip {
                        // Rows of this word that exist, minus those set.
                        let n = xb.rows.saturating_sub(w * 64).min(64);
                        let valid = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
                        m = !m & valid;
                    }
                    while m != 0 {
                        idx.push((w * 64 + m.trailing_zeros() as usize) as u16);
                        m &= m - 1;
                    }
                }
                pad(&mut idx);
                off.push(idx.len() as u32);
                comp.push(flip);
            }
        }
        let any_comp = comp.iter().any(|&c| c);
        let mut all: Vec<u16> = (0..xb.rows as u16).collect();
        pad(&mut all);
        // The bit-sliced kernel indexes its input rows with these unchecked.
        assert!(idx.iter().chain(&all).all(|&i| i as usize <= xb.rows));
        RowLists {
            idx,
            off,
            comp,
            any_comp,
            all,
        }
    }
    /// The list of (col, j) and whether it is the complement.
    #[inline(always)]
    pub fn with_bit(&self, col: usize, j: usize, bpc: usize) -> (&[u16], bool) {
        let i = col * bpc + j;
        (
            &self.idx[self.off[i] as usize..self.off[i + 1] as usize],
            self.comp[i],
        )
    }
}

impl Crossbar {
    /// Writes the stored levels (biased, sliced, flipped) row by row into `dst`, whose rows are
    /// `stride` >= `cols` bytes apart; the bytes past `cols` in each row are left alone.
    pub(crate) fn write_levels(&self, dst: &mut [u8], stride: usize) {
        let (cols, slices, bpc) = (self.cols, self.slices, self.bpc as u32);
        let cmax = self.cmax as u64;
        for (wr, lr) in self
            .tile
            .chunks_exact(self.outs)
            .zip(dst.chunks_exact_mut(stride))
        {
            let lr = &mut lr[..cols];
            for (&wv, lo) in wr.iter().zip(lr.chunks_exact_mut(slices)) {
                let u = (wv as i64 + self.bias) as u64;
                for (s, l) in lo.iter_mut().enumerate() {
                    *l = ((u >> (s as u32 * bpc)) & cmax) as u8;
                }
            }
            // flip_mask is 0 or -1: a flipped level is cmax - level.
            for (l, &f) in lr.iter_mut().zip(&self.flip_mask) {
                if f != 0 {
                    *l = self.cmax as u8 - *l;
                }
            }
        }
    }

    /// The stored levels, [row][col] (built on first use).
    pub(crate) fn levels(&self) -> &[u8] {
        self.levels.get_or_init(|| {
            let mut v = vec![0u8; self.rows * self.cols];
            self.write_levels(&mut v, self.cols);
            v
        })
    }

    /// The bit-planes of the stored levels (see `planes`).
    pub(crate) fn planes(&self) -> &[u64] {
        self.planes.get_or_init(|| {
            let (words, bpc, np) = (self.words, self.bpc, self.cols_pad);
            let mut planes = vec![0u64; bpc * words * np];
            for (r, lr) in self.levels().chunks_exact(self.cols).enumerate() {
                let (wd, bit) = (r / 64, r % 64);
                for (col, &l) in lr.iter().enumerate() {
                    for j in 0..bpc {
                        planes[(j * words + wd) * np + col] |= (((l >> j) & 1) as u64) << bit;
                    }
                }
            }
            planes
        })
    }

    pub(crate) fn row_lists(&self, bpc: usize) -> &RowLists {
        self.lists.get_or_init(|| RowLists::new(self, bpc))
    }
}

/// Which noiseless kernel runs: all are exact and count the same events; they differ in speed.
/// `Auto` takes the exact product where the programmed crossbars provably cannot saturate
/// (`Programmed::exact_product`), else the bit-sliced kernel where it applies and the batch is
/// large enough, else the popcount one. The others force a bit-plane kernel (tests compare them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExactKernel {
    #[default]
    Auto,
    /// Popcounts of input bit-planes against cell bit-planes, one vector at a time.
    Popcount,
    /// 32 vectors x 16 cycles per word, Harley-Seal vertical counts (1-bit DACs and the
    /// exact-range ADC only; other configurations fall back to `Popcount`).
    BitSliced,
}

/// 32 conductances of one row, 64-byte aligned.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Strip(pub [f32; 32]);

/// Per-read noise on the analogue path: each cell's conductance gets fresh N(0, (mu*(g_max -
/// g_min))^2) in every read; drawn as its exact column total N(0, sigma^2 * sum_r v_r^2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReadNoise {
    pub mu: f64,
    pub seed: u64,
}

/// A work unit's (column tile, first vector, last vector), its output block and its counts.
pub(crate) type TaskResult = ((usize, usize, usize), Vec<i64>, Counts);

/// A layer's weights on its crossbars, ready to run.
pub struct Programmed {
    pub(crate) cfg: XbarConfig,
    pub(crate) k: usize,
    pub(crate) n: usize,
    pub(crate) row_tiles: usize,
    pub(crate) col_tiles: usize,
    pub(crate) xbars: Vec<Crossbar>,
    /// Sum over K of each output's signed weights (offset-binary inputs need it).
    pub(crate) wsum: Vec<i64>,
    pub(crate) analog: bool,
    pub(crate) kernel: ExactKernel,
    /// The exact product, where no conversion can saturate (noiseless runs only).
    pub(crate) linear: Option<Linear>,
}

impl Programmed {
    /// Programs `w` (row-major K x N, signed `weight_bits` integers) onto crossbars.
    pub fn new(cfg: &XbarConfig, w: &[i64], k: usize, n: usize) -> Result<Self, KernelError> {
        cfg.check()?;
        // A bad NESTEVO_SIMD is refused here, before any work; each product decides its tier.
        simd::decide()?;
        if k == 0 || n == 0 || w.len() != k * n {
            return fail(format!(
                "weights hold {} values, expected K {k} x N {n} = {} (both > 0)",
                w.len(),
                k * n
            ));
        }
        let bits = cfg.weight_bits;
        let (lo, hi) = (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1);
        // The first weight out of range is looked for only when there is one.
        if crate::inputs::any_outside(w, lo, hi) {
            let i = w
                .iter()
                .position(|&v| v < lo || v > hi)
                .expect("a weight is out of range");
            return fail(format!(
                "weight [{}, {}] = {} is outside the signed {bits}-bit range {lo}..={hi}",
                i / n,
                i % n,
                w[i]
            ));
        }
        let (rows, slices, bpc) = (cfg.rows, cfg.slices(), cfg.bits_per_cell);
        let opx = cfg.outputs_per_xbar();
        let row_tiles = k.div_ceil(rows);
        let col_tiles = n.div_ceil(opx);
        let cmax = cfg.cell_max();
        let bias = 1i64 << (bits - 1);
        let words = cfg.words();
        // Crossbars are independent: programmed in parallel, in index order.
        let xbars: Vec<Crossbar> = (0..row_tiles * col_tiles)
            .into_par_iter()
            .map(|index| {
                let (t, c) = (index / col_tiles, index % col_tiles);
                let (row0, out0) = (t * rows, c * opx);
                let nr = rows.min(k - row0);
                let outs = opx.min(n - out0);
                let cols = outs * slices;
                // The column sums of the stored levels, straight from the weights: the levels
                // themselves (a byte per cell, 200 MB for ResNet-50) are built only for a path
                // that reads them.
                let mut tile = Vec::with_capacity(nr * outs);
                // Per slice, then output (contiguous, so the loop vectorises); at most
                // rows * cell_max per sum.
                let mut by_slice = vec![0u32; slices * outs];
                // A row's offset-binary weights, below 2^16 (`weight_bits` <= 16): the slices
                // are then 32-bit lane operations.
                let mut u = vec![0u32; outs];
                for r in 0..nr {
                    let wr = &w[(row0 + r) * n + out0..][..outs];
                    // In the signed weight range (checked above), so within i16.
                    tile.extend(wr.iter().map(|&v| v as i16));
                    for (u, &wv) in u.iter_mut().zip(wr) {
                        *u = (wv + bias) as u32;
                    }
                    for (s, so) in by_slice.chunks_exact_mut(outs).enumerate() {
                        let shift = s as u32 * bpc;
                        for (sum, &uv) in so.iter_mut().zip(&u) {
                            *sum += (uv >> shift) & cmax;
                        }
                    }
                }
                let mut sums = vec![0u64; cols];
                for (o, so) in sums.chunks_exact_mut(slices).enumerate() {
                    for (s, sum) in so.iter_mut().enumerate() {
                        *sum = by_slice[s * outs + o] as u64;
                    }
                }
                let mut flip = vec![0i64; cols];
                let full = nr as u64 * cmax as u64;
                if cfg.flip {
                    for (f, sum) in flip.iter_mut().zip(sums.iter_mut()) {
                        // Flip when the stored sum exceeds half the full scale of the used rows.
                        if 2 * *sum > full {
                            *f = 1;
                            *sum = full - *sum;
                        }
                    }
                }
                let max_col_sum = sums.iter().copied().max().unwrap_or(0);
                let cols_pad = cols.div_ceil(8) * 8;
                let mut flip_mask: Vec<i64> = flip.iter().map(|f| -f).collect();
                flip_mask.resize(cols_pad, 0);
                Crossbar {
                    index,
                    row0,
                    rows: nr,
                    outs,
                    cols,
                    cols_pad,
                    max_col_sum,
                    words,
                    bpc: bpc as usize,
                    flip_mask,
                    flip_f: flip.iter().map(|&f| f as f32).collect(),
                    tile,
                    slices,
                    bias,
                    cmax,
                    levels: OnceLock::new(),
                    planes: OnceLock::new(),
                    cond: Vec::new(),
                    strips: Vec::new(),
                    lists: OnceLock::new(),
                }
            })
            .collect();
        // Row by row (a column-strided walk would miss the cache on every weight), blocks of
        // rows over the threads; integer sums, so the order does not matter.
        let add = |mut a: Vec<i64>, row: &[i64]| {
            for (s, &v) in a.iter_mut().zip(row) {
                *s += v;
            }
            a
        };
        let wsum = w
            .par_chunks(n * 64)
            .map(|block| block.chunks_exact(n).fold(vec![0i64; n], add))
            .reduce(|| vec![0i64; n], |a, b| add(a, &b));
        let stored: Vec<_> = xbars
            .iter()
            .map(|x| (x.rows, x.cols, x.max_col_sum))
            .collect();
        let linear = product::prepare(cfg, &stored, w, k);
        Ok(Programmed {
            cfg: cfg.clone(),
            k,
            n,
            row_tiles,
            col_tiles,
            xbars,
            wsum,
            analog: false,
            kernel: ExactKernel::Auto,
            linear,
        })
    }

    /// Switches to the analogue path with Eq. 18-20 programming noise only: every cell (and the
    /// unit column's cells, level 1) gets a conductance g_min + level * step, plus
    /// N(0, (mu*(g_max - g_min))^2) drawn once, clipped to [g_min, g_max].
    pub fn program_conductances(self, mu: f64, seed: u64) -> Result<Self, KernelError> {
        if !(mu.is_finite() && (0.0..=1.0).contains(&mu)) {
            return fail(format!("noise coefficient mu must be in 0..=1, got {mu}"));
        }
        let laws: Vec<Arc<dyn CellLaw>> = if mu > 0.0 {
            vec![Arc::new(Programming { mu })]
        } else {
            Vec::new()
        };
        self.program_cells(&laws, seed)
    }

    /// Switches to the analogue path: every cell (and the unit column's cells, level 1) starts at
    /// its nominal conductance g_min + level * step, then `laws` change it in order
    /// (`nestevo_device::program_crossbar`: law i of crossbar c draws from ChaCha8(seed), stream
    /// c + i * 2^40, so the draws do not depend on the thread count). A law's `check` refuses a
    /// crossbar it cannot describe before any work.
    pub fn program_cells(
        mut self,
        laws: &[Arc<dyn CellLaw>],
        seed: u64,
    ) -> Result<Self, KernelError> {
        let (gmin, gmax) = (self.cfg.g_min, self.cfg.g_max);
        let cmax = self.cfg.cell_max();
        let step = (gmax - gmin) / cmax as f64;
        for law in laws {
            law.check(gmin, gmax, cmax)
                .map_err(|e| KernelError(format!("device law `{}`: {e}", law.name())))?;
        }
        let dac1 = self.cfg.dac_bits == 1;
        // Crossbars are independent and each law draws from its own stream per crossbar. The
        // working buffers are reused across a worker's crossbars: a fresh 130 kB f64 buffer per
        // crossbar was a fresh mapping each time, and zeroing its pages dominated programming.
        let init = || (Vec::<u8>::new(), Vec::<f64>::new());
        self.xbars
            .par_iter_mut()
            .for_each_init(init, |(levels, g), xb| {
                let cw = xb.cols + 1;
                levels.clear();
                levels.resize(xb.rows * cw, 1);
                xb.write_levels(levels, cw);
                g.clear();
                g.resize(xb.rows * cw, 0.0);
                let mut cells = Cells {
                    g,
                    levels,
                    rows: xb.rows,
                    cols: cw,
                    g_min: gmin,
                    g_max: gmax,
                    cell_max: cmax,
                };
                for (g, &l) in cells.g.iter_mut().zip(levels.iter()) {
                    *g = gmin + l as f64 * step;
                }
                program_crossbar(laws, &mut cells, seed, xb.index as u64);
                // The 1-bit-DAC path reads strips only, wider DACs multiply `cond` by levels: one
                // copy each (two would double the memory written, 1.6 GB for ResNet-50).
                if !dac1 {
                    xb.cond = g.iter().map(|&x| x as f32).collect();
                    return;
                }
                let ns = cw.div_ceil(32);
                xb.strips = vec![Strip([0.0; 32]); ns * xb.rows];
                for r in 0..xb.rows {
                    for (col, &g) in g[r * cw..][..cw].iter().enumerate() {
                        xb.strips[(col / 32) * xb.rows + r].0[col % 32] = g as f32;
                    }
                }
            });
        self.analog = true;
        self.linear = None;
        Ok(self)
    }

    /// Chooses the noiseless kernel (tests compare them; `Auto` is the fast choice).
    pub fn with_exact_kernel(mut self, kernel: ExactKernel) -> Self {
        self.kernel = kernel;
        self
    }

    /// Whether a noiseless run of `Auto` is the exact product: no column of any crossbar can
    /// exceed the ADC's range, so no conversion saturates and none changes a sum.
    pub fn exact_product(&self) -> bool {
        self.linear.is_some()
    }

    pub fn crossbars(&self) -> usize {
        self.xbars.len()
    }
    pub fn config(&self) -> &XbarConfig {
        &self.cfg
    }
    pub fn shape(&self) -> (usize, usize) {
        (self.k, self.n)
    }

    /// Conductances of crossbar `i` in uS, [row][data cols + unit column] (empty when exact);
    /// gathered from the strips where only they are kept (1-bit DACs).
    pub fn conductances(&self, i: usize) -> (Cow<'_, [f32]>, usize) {
        let xb = &self.xbars[i];
        let cw = xb.cols + 1;
        if xb.strips.is_empty() {
            return (Cow::Borrowed(&xb.cond), cw);
        }
        let mut g = vec![0f32; xb.rows * cw];
        for (r, row) in g.chunks_exact_mut(cw).enumerate() {
            for (col, v) in row.iter_mut().enumerate() {
                *v = xb.strips[(col / 32) * xb.rows + r].0[col % 32];
            }
        }
        (Cow::Owned(g), cw)
    }
    /// Stored levels of crossbar `i`, [row][data col], after flipping.
    pub fn levels(&self, i: usize) -> (&[u8], usize) {
        let xb = &self.xbars[i];
        (xb.levels(), xb.cols)
    }

    /// Work units (column tile, first vector, last vector) for the parallel loops: at most
    /// `max_per` vectors each (rounded down to, but at least, `align`), and every first vector
    /// a multiple of `align` (the bit-sliced kernel's blocks of 32).
    pub(crate) fn tasks(
        &self,
        batch: usize,
        max_per: usize,
        align: usize,
    ) -> Vec<(usize, usize, usize)> {
        let threads = rayon::current_num_threads().max(1);
        // Enough tasks to balance, each long enough to reuse its crossbars' planes.
        let want = threads * 8;
        let blocks = batch.div_ceil(align).max(1);
        let chunks = want.div_ceil(self.col_tiles).clamp(1, blocks);
        let cap = (max_per / align).max(1) * align;
        let per = (blocks.div_ceil(chunks) * align).min(cap);
        let mut t = Vec::new();
        for ci in 0..self.col_tiles {
            let mut v0 = 0;
            while v0 < batch {
                t.push((ci, v0, (v0 + per).min(batch)));
                v0 += per;
            }
        }
        t
    }

    /// Scatters per-task blocks [v1-v0][outs of tile ci] into a batch x N matrix.
    pub(crate) fn gather(&self, batch: usize, parts: Vec<TaskResult>) -> (Vec<i64>, Counts) {
        let mut acc = vec![0i64; batch * self.n];
        let mut counts = Counts::default();
        let opx = self.cfg.outputs_per_xbar();
        for ((ci, v0, v1), block, c) in parts {
            let out0 = ci * opx;
            let outs = opx.min(self.n - out0);
            for v in v0..v1 {
                acc[v * self.n + out0..][..outs].copy_from_slice(&block[(v - v0) * outs..][..outs]);
            }
            counts += c;
        }
        (acc, counts)
    }
}
