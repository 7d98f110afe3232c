//! The noiseless path, bit-sliced: one 512-bit word holds 32 input vectors as 16-bit lanes, so
//! bit b of lane v is the bit that vector v drives in cycle b. A column's sum in every cycle of
//! all 32 vectors is then a vertical count (Harley-Seal carry-save adders) over the rows whose
//! cell has a bit set: 512 column sums at about two bitwise operations per stored bit, against
//! one popcount per 64 rows, column and vector in `exact`. The ADC clamps in the same
//! bit-sliced form (any bit at or above its width saturates the code), and the shift-and-add
//! over the cycles comes almost free: read as an integer, lane v of the code's plane k is
//! sum_b 2^b bit_k(code_b). Every column of every cycle is still summed and converted; only the
//! representation changes.

use crate::counts::Counts;
use crate::inputs::Prepared;
use crate::program::Programmed;
use crate::simd::Simd;
use rayon::prelude::*;

/// Vectors per block: 16-bit lanes of a 512-bit word.
pub(crate) const LANES: usize = 32;

/// 512 lanes of one bit each, as stored (64-byte aligned so the vector path loads it whole).
#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
pub(crate) struct V([u64; 8]);

impl V {
    fn lanes(self) -> [u16; LANES] {
        // SAFETY: both are 64 plain bytes; lanes and bits only ever meet through this pair of
        // casts, so the byte order does not matter.
        unsafe { std::mem::transmute::<[u64; 8], [u16; LANES]>(self.0) }
    }
    fn from_lanes(l: [u16; LANES]) -> V {
        // SAFETY: as in `lanes`.
        V(unsafe { std::mem::transmute::<[u16; LANES], [u64; 8]>(l) })
    }
}

/// The vector a result lane belongs to: even vectors first, then odd (the order in which the
/// 32-bit halves of the 16-bit lanes come out of a register).
#[inline(always)]
fn lane_vector(i: usize) -> usize {
    if i < LANES / 2 {
        2 * i
    } else {
        2 * (i - LANES / 2) + 1
    }
}

/// What the kernel needs on 512 lanes: bitwise operations for the counters, and the
/// shift-and-add of code planes into 32 per-vector sums. Plain arrays (which the compiler
/// vectorises as it can) or AVX-512 registers (a full adder is two `vpternlogq`).
trait Word: Copy {
    /// 32 per-vector i64 sums, lane i for vector `lane_vector(i)`.
    type Y: Copy;
    fn zero() -> Self;
    fn load(v: &V) -> Self;
    fn xor(self, o: Self) -> Self;
    fn and(self, o: Self) -> Self;
    fn or(self, o: Self) -> Self;
    fn not(self) -> Self;
    /// (carry, sum) of a + b + c.
    fn csa(a: Self, b: Self, c: Self) -> (Self, Self);
    fn ones(self) -> u64;
    fn y_zero() -> Self::Y;
    /// y += sign * (sum_k 2^k lane(plane k)) << shift, lanes sign-extended from bit
    /// `cycles - 1` when `signed` (two's complement inputs: the top cycle weighs -2^(cycles-1)).
    fn shift_add(
        planes: &[Self],
        cycles: u32,
        signed: bool,
        shift: u32,
        neg: bool,
        y: &mut Self::Y,
    );
    /// y += f * scale.
    fn add_scaled(y: &mut Self::Y, f: &Self::Y, scale: i64);
    fn y_lanes(y: &Self::Y) -> [i64; LANES];
}

/// sum_k 2^k lane_v(plane k) for every lane, in `lane_vector` order.
#[inline(always)]
fn plane_sums(planes: &[[u16; LANES]], cycles: u32, signed: bool) -> [i64; LANES] {
    let sh = 32 - cycles;
    let mut acc = [0i64; LANES];
    for (k, l) in planes.iter().enumerate() {
        for (i, a) in acc.iter_mut().enumerate() {
            let u = l[lane_vector(i)] as i32;
            let v = if signed { (u << sh) >> sh } else { u };
            *a += (v as i64) << k;
        }
    }
    acc
}

impl Word for V {
    type Y = [i64; LANES];
    #[inline(always)]
    fn zero() -> Self {
        V([0; 8])
    }
    #[inline(always)]
    fn load(v: &V) -> Self {
        *v
    }
    #[inline(always)]
    fn xor(self, o: V) -> V {
        V(std::array::from_fn(|i| self.0[i] ^ o.0[i]))
    }
    #[inline(always)]
    fn and(self, o: V) -> V {
        V(std::array::from_fn(|i| self.0[i] & o.0[i]))
    }
    #[inline(always)]
    fn or(self, o: V) -> V {
        V(std::array::from_fn(|i| self.0[i] | o.0[i]))
    }
    #[inline(always)]
    fn not(self) -> V {
        V(std::array::from_fn(|i| !self.0[i]))
    }
    #[inline(always)]
    fn csa(a: V, b: V, c: V) -> (V, V) {
        let u = a.xor(b);
        (a.and(b).or(u.and(c)), u.xor(c))
    }
    fn ones(self) -> u64 {
        self.0.iter().map(|w| w.count_ones() as u64).sum()
    }
    fn y_zero() -> Self::Y {
        [0; LANES]
    }
    #[inline(always)]
    fn shift_add(planes: &[V], cycles: u32, signed: bool, shift: u32, neg: bool, y: &mut Self::Y) {
        let mut l = [[0u16; LANES]; 24];
        for (d, p) in l.iter_mut().zip(planes) {
            *d = p.lanes();
        }
        let acc = plane_sums(&l[..planes.len()], cycles, signed);
        for (y, a) in y.iter_mut().zip(acc) {
            *y += if neg { -(a << shift) } else { a << shift };
        }
    }
    fn add_scaled(y: &mut Self::Y, f: &Self::Y, scale: i64) {
        for (y, f) in y.iter_mut().zip(f) {
            *y += f * scale;
        }
    }
    fn y_lanes(y: &Self::Y) -> [i64; LANES] {
        *y
    }
}

#[cfg(target_arch = "x86_64")]
mod zmm {
    use super::{plane_sums, Word, LANES, V};
    use std::arch::x86_64::*;

    /// Only ever used inside `task_avx512`, which runs when the CPU has AVX-512.
    #[derive(Clone, Copy)]
    pub(super) struct Z(__m512i);

    // SAFETY (every `unsafe` below): the intrinsics need AVX-512 F/DQ/VPOPCNTDQ; these
    // functions are inlined into `task_avx512` only, which is called after the CPU reported
    // those features. Loads and stores go through 64-byte aligned `V`s or `[i64; 32]`s.
    impl Word for Z {
        type Y = [__m512i; 4];
        #[inline(always)]
        fn zero() -> Self {
            Z(unsafe { _mm512_setzero_si512() })
        }
        #[inline(always)]
        fn load(v: &V) -> Self {
            Z(unsafe { _mm512_load_si512(v as *const V as *const __m512i) })
        }
        #[inline(always)]
        fn xor(self, o: Z) -> Z {
            Z(unsafe { _mm512_xor_si512(self.0, o.0) })
        }
        #[inline(always)]
        fn and(self, o: Z) -> Z {
            Z(unsafe { _mm512_and_si512(self.0, o.0) })
        }
        #[inline(always)]
        fn or(self, o: Z) -> Z {
            Z(unsafe { _mm512_or_si512(self.0, o.0) })
        }
        #[inline(always)]
        fn not(self) -> Z {
            Z(unsafe { _mm512_ternarylogic_epi64::<0x55>(self.0, self.0, self.0) })
        }
        #[inline(always)]
        fn csa(a: Z, b: Z, c: Z) -> (Z, Z) {
            // 0xE8: majority; 0x96: three-way xor.
            unsafe {
                (
                    Z(_mm512_ternarylogic_epi64::<0xE8>(a.0, b.0, c.0)),
                    Z(_mm512_ternarylogic_epi64::<0x96>(a.0, b.0, c.0)),
                )
            }
        }
        #[inline(always)]
        fn ones(self) -> u64 {
            unsafe { _mm512_reduce_add_epi64(_mm512_popcnt_epi64(self.0)) as u64 }
        }
        #[inline(always)]
        fn y_zero() -> Self::Y {
            unsafe { [_mm512_setzero_si512(); 4] }
        }
        #[inline(always)]
        fn shift_add(
            planes: &[Z],
            cycles: u32,
            signed: bool,
            shift: u32,
            neg: bool,
            y: &mut Self::Y,
        ) {
            unsafe {
                let wide: [__m512i; 4] = if planes.len() <= 15 {
                    // Up to 15 planes the sums fit 32 bits: even and odd 16-bit lanes are taken
                    // as 32-bit lanes and summed Horner-wise.
                    let (mut e, mut o) = (_mm512_setzero_si512(), _mm512_setzero_si512());
                    let lo = _mm512_set1_epi32(0xffff);
                    let up_e = _mm_cvtsi32_si128(32 - cycles as i32);
                    let up_o = _mm_cvtsi32_si128(16 - cycles as i32);
                    for p in planes.iter().rev() {
                        let (pe, po) = if signed {
                            (
                                _mm512_sra_epi32(_mm512_sll_epi32(p.0, up_e), up_e),
                                _mm512_sra_epi32(_mm512_sll_epi32(p.0, up_o), up_e),
                            )
                        } else {
                            (_mm512_and_si512(p.0, lo), _mm512_srli_epi32::<16>(p.0))
                        };
                        e = _mm512_add_epi32(_mm512_add_epi32(e, e), pe);
                        o = _mm512_add_epi32(_mm512_add_epi32(o, o), po);
                    }
                    [
                        _mm512_cvtepi32_epi64(_mm512_castsi512_si256(e)),
                        _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64::<1>(e)),
                        _mm512_cvtepi32_epi64(_mm512_castsi512_si256(o)),
                        _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64::<1>(o)),
                    ]
                } else {
                    let mut l = [[0u16; LANES]; 24];
                    for (d, p) in l.iter_mut().zip(planes) {
                        _mm512_storeu_si512(d.as_mut_ptr() as *mut __m512i, p.0);
                    }
                    let acc = plane_sums(&l[..planes.len()], cycles, signed);
                    let a = acc.as_ptr() as *const __m512i;
                    std::array::from_fn(|q| _mm512_loadu_si512(a.add(q)))
                };
                let sh = _mm_cvtsi32_si128(shift as i32);
                for (y, w) in y.iter_mut().zip(wide) {
                    let w = _mm512_sll_epi64(w, sh);
                    *y = if neg {
                        _mm512_sub_epi64(*y, w)
                    } else {
                        _mm512_add_epi64(*y, w)
                    };
                }
            }
        }
        #[inline(always)]
        fn add_scaled(y: &mut Self::Y, f: &Self::Y, scale: i64) {
            unsafe {
                let s = _mm512_set1_epi64(scale);
                for (y, f) in y.iter_mut().zip(f) {
                    *y = _mm512_add_epi64(*y, _mm512_mullo_epi64(*f, s));
                }
            }
        }
        #[inline(always)]
        fn y_lanes(y: &Self::Y) -> [i64; LANES] {
            let mut out = [0i64; LANES];
            let p = out.as_mut_ptr() as *mut __m512i;
            for (q, v) in y.iter().enumerate() {
                unsafe { _mm512_storeu_si512(p.add(q), *v) };
            }
            out
        }
    }
}

/// Whether this path computes the configuration: 1-bit DACs (a cycle is one input bit), the
/// exact-range ADC (its clamp is a bitwise OR), 1, 2 or 4 bits per cell, counts that fit.
pub(crate) fn supports(p: &Programmed) -> bool {
    let c = &p.cfg;
    c.dac_bits == 1
        && matches!(c.adc_mode, crate::adc::AdcMode::Exact)
        && c.input_bits <= 16
        && matches!(c.bits_per_cell, 1 | 2 | 4)
        && c.rows < u16::MAX as usize
        && planes_needed(p) <= 24
}

/// Bit planes of the largest column sum, rows x cell_max.
fn planes_needed(p: &Programmed) -> usize {
    let max = p.cfg.rows as u64 * p.cfg.cell_max() as u64;
    (u64::BITS - max.leading_zeros()) as usize
}

/// The inputs of each block of 32 vectors and each row tile, row by row, one lane per vector;
/// one zero row after each tile's rows is where padded row lists point.
/// Index ((block * tiles + t) * (rows + 1) + r).
pub(crate) fn transpose(p: &Programmed, prep: &Prepared) -> Vec<V> {
    let (k, rows, tiles) = (p.k, p.cfg.rows, p.row_tiles);
    let blocks = prep.batch.div_ceil(LANES);
    let per_block = tiles * (rows + 1);
    let mut xt = vec![V::default(); blocks * per_block];
    xt.par_chunks_mut(per_block)
        .enumerate()
        .for_each(|(blk, out)| {
            let v0 = blk * LANES;
            let nv = LANES.min(prep.batch - v0);
            for r in 0..k {
                let mut l = [0u16; LANES];
                for (i, li) in l.iter_mut().enumerate().take(nv) {
                    *li = prep.applied[(v0 + i) * k + r] as u16;
                }
                out[(r / rows) * (rows + 1) + r % rows] = V::from_lanes(l);
            }
        });
    xt
}

pub(crate) fn run(p: &Programmed, prep: &Prepared, xt: &[V], simd: Simd) -> (Vec<i64>, Counts) {
    let signed = prep.cycle_weight[p.cfg.cycles() - 1] < 0;
    let need = planes_needed(p);
    let bpc = p.cfg.bits_per_cell;
    let parts: Vec<_> = p
        .tasks(prep.batch, usize::MAX, LANES)
        .into_par_iter()
        .map(|task| {
            let (ci, v0, v1) = task;
            let mut block = vec![0i64; (v1 - v0) * p.xbars[ci].outs];
            let mut c = Counts::default();
            let a = Args {
                p,
                xt,
                task,
                signed,
            };
            let out = (&mut block[..], &mut c);
            // Counter sizes as constants keep the counters in registers.
            macro_rules! go {
                ($bpc:literal, $p:literal) => {{
                    #[cfg(target_arch = "x86_64")]
                    match simd {
                        // SAFETY: the tier is Avx512: the CPU reported AVX-512 F, DQ, BW, VL, VPOPCNTDQ.
                        Simd::Avx512 => unsafe { task_avx512::<$bpc, $p>(a, out) },
                        // SAFETY: the tier is Avx2: the CPU reported AVX2 and POPCNT.
                        Simd::Avx2 => unsafe { task_avx2::<$bpc, $p>(a, out) },
                        Simd::Plain => task_body::<V, $bpc, $p>(a, out),
                    }
                    #[cfg(not(target_arch = "x86_64"))]
                    {
                        let _ = simd;
                        task_body::<V, $bpc, $p>(a, out)
                    }
                }};
            }
            match (bpc, need) {
                (1, ..=9) => go!(1, 9),
                (2, ..=9) => go!(2, 9),
                (4, ..=9) => go!(4, 9),
                (1, ..=16) => go!(1, 16),
                (2, ..=16) => go!(2, 16),
                (4, ..=16) => go!(4, 16),
                (1, _) => go!(1, 24),
                (2, _) => go!(2, 24),
                _ => go!(4, 24),
            }
            (task, block, c)
        })
        .collect();
    p.gather(prep.batch, parts)
}

#[derive(Clone, Copy)]
struct Args<'a> {
    p: &'a Programmed,
    xt: &'a [V],
    task: (usize, usize, usize),
    signed: bool,
}
type Out<'a> = (&'a mut [i64], &'a mut Counts);

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vpopcntdq,avx512bw,avx512vl,avx2,popcnt")]
unsafe fn task_avx512<const BPC: usize, const P: usize>(a: Args, out: Out) {
    task_body::<zmm::Z, BPC, P>(a, out)
}

/// The portable words compiled for AVX2: the compiler turns their eight-word operations into
/// pairs of 256-bit ones and the counts into POPCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn task_avx2<const BPC: usize, const P: usize>(a: Args, out: Out) {
    task_body::<V, BPC, P>(a, out)
}

/// One column tile for vectors v0..v1 (v0 a multiple of 32), merging its row tiles. BPC: bits
/// per cell; P: planes of the counters (the largest column sum is below 2^P).
#[inline(always)]
fn task_body<W: Word, const BPC: usize, const P: usize>(a: Args, (out, cnt): Out) {
    let Args {
        p,
        xt,
        task: (ci, v0, v1),
        signed,
    } = a;
    let cfg = &p.cfg;
    let (rows, cycles, slices) = (cfg.rows, cfg.cycles() as u32, cfg.slices());
    let adc_bits = cfg.adc_bits as usize;
    let cmax = cfg.cell_max() as i64;
    let outs = p.xbars[ci].outs;
    let mut sat = 0u64;
    for b0 in (v0..v1).step_by(LANES) {
        let blk = b0 / LANES;
        let nv = LANES.min(v1 - b0);
        for t in 0..p.row_tiles {
            let xb = &p.xbars[t * p.col_tiles + ci];
            let x = &xt[(blk * p.row_tiles + t) * (rows + 1)..][..rows + 1];
            let rl = xb.row_lists(BPC);
            // The count over all rows: the unit column's sum (every row holds level 1, read
            // through the same ADC), and what complemented row lists are subtracted from.
            let mut u = [W::zero(); P];
            if cfg.flip || rl.any_comp {
                count_into::<W, P, 0>(x, &rl.all, &mut u);
            }
            let mut f = W::y_zero();
            if cfg.flip {
                let mut st = u;
                let nc = adc(&mut st, adc_bits, &mut sat);
                W::shift_add(&st[..nc], cycles, signed, 0, false, &mut f);
            }
            for o in 0..xb.outs {
                let mut y = W::y_zero();
                // Flipped columns read cell_max * U - S'; the U terms are added once.
                let mut fscale = 0i64;
                for s in 0..slices {
                    let col = o * slices + s;
                    let mut st = [W::zero(); P];
                    // Cell bit j counts at weight 2^j; constant bases keep `st` in registers.
                    let list = |j| rl.with_bit(col, j, BPC);
                    add_bit::<W, P, 0>(x, list(0), &u, &mut st);
                    if BPC > 1 {
                        add_bit::<W, P, 1>(x, list(1), &u, &mut st);
                    }
                    if BPC > 2 {
                        add_bit::<W, P, 2>(x, list(2), &u, &mut st);
                        add_bit::<W, P, 3>(x, list(3), &u, &mut st);
                    }
                    let nc = adc(&mut st, adc_bits, &mut sat);
                    let shift = (s * BPC) as u32;
                    let flipped = xb.flip_mask[col] != 0;
                    W::shift_add(&st[..nc], cycles, signed, shift, flipped, &mut y);
                    if flipped {
                        fscale += cmax << shift;
                    }
                }
                if fscale != 0 {
                    W::add_scaled(&mut y, &f, fscale);
                }
                for (i, yi) in W::y_lanes(&y).into_iter().enumerate() {
                    let v = lane_vector(i);
                    if v < nv {
                        out[(b0 - v0 + v) * outs + o] += yi;
                    }
                }
            }
            let reads = cycles as u64 * nv as u64;
            cnt.crossbar_reads += reads;
            cnt.dac_pulses += xb.rows as u64 * reads;
            cnt.adc_conversions += (xb.cols as u64 + cfg.flip as u64) * reads;
            cnt.shift_adds += xb.cols as u64 * reads;
        }
    }
    cnt.adc_saturations += sat;
}

/// st += 2^J * (count of the rows whose cell has bit J set): counted directly, or as the count
/// over all rows `u` minus that of the complement list.
#[inline(always)]
fn add_bit<W: Word, const P: usize, const J: usize>(
    x: &[V],
    (list, comp): (&[u16], bool),
    u: &[W; P],
    st: &mut [W; P],
) {
    if !comp {
        return count_into::<W, P, J>(x, list, st);
    }
    let mut c = [W::zero(); P];
    count_into::<W, P, 0>(x, list, &mut c);
    // d = u - c = u + !c + 1, then st += d << J; both ripple-carry, bit-sliced.
    let ones = W::zero().not();
    let mut borrow = ones;
    let mut d = [W::zero(); P];
    for k in 0..P {
        let (cy, s) = W::csa(u[k], c[k].not(), borrow);
        d[k] = s;
        borrow = cy;
    }
    let mut carry = W::zero();
    for k in J..P {
        let (cy, s) = W::csa(st[k], d[k - J], carry);
        st[k] = s;
        carry = cy;
    }
}

/// Adds the rows listed in `list` (padded to a multiple of 8 with the zero row), at weight
/// 2^base, into the bit-sliced counter `st` (value sum_k 2^k st[k]): Harley-Seal, sixteen rows
/// per step (eight for a last odd block), with st[base..base+4] as its ones, twos, fours and
/// eights, and each carry of weight 16 rippled into the planes above.
#[inline(always)]
fn count_into<W: Word, const P: usize, const BASE: usize>(x: &[V], list: &[u16], st: &mut [W; P]) {
    let base = BASE;
    let mut blocks = list.chunks_exact(16);
    for ch in &mut blocks {
        let ea = eight(x, &ch[..8], st, base);
        let eb = eight(x, &ch[8..], st, base);
        let (c16, e8) = W::csa(st[base + 3], ea, eb);
        st[base + 3] = e8;
        ripple(c16, st, base + 4);
    }
    let rest = blocks.remainder();
    if !rest.is_empty() {
        let e = eight(x, rest, st, base);
        let c16 = st[base + 3].and(e);
        st[base + 3] = st[base + 3].xor(e);
        ripple(c16, st, base + 4);
    }
}

/// Eight rows into st[base..base+3]; returns the carry of weight 8 * 2^base.
#[inline(always)]
fn eight<W: Word, const P: usize>(x: &[V], ch: &[u16], st: &mut [W; P], base: usize) -> W {
    let ch: &[u16; 8] = ch.try_into().expect("row lists are padded to 8");
    debug_assert!(ch.iter().all(|&i| (i as usize) < x.len()));
    // SAFETY: `RowLists` holds indices up to the tile's row count and `x` has one more row
    // (the zero row), so every index is in bounds (`task_body` slices `x` to rows + 1).
    let g = |i: u16| W::load(unsafe { x.get_unchecked(i as usize) });
    let (ta, o) = W::csa(st[base], g(ch[0]), g(ch[1]));
    let (tb, o) = W::csa(o, g(ch[2]), g(ch[3]));
    let (fa, t) = W::csa(st[base + 1], ta, tb);
    let (ta, o) = W::csa(o, g(ch[4]), g(ch[5]));
    let (tb, o) = W::csa(o, g(ch[6]), g(ch[7]));
    let (fb, t) = W::csa(t, ta, tb);
    let (e, fo) = W::csa(st[base + 2], fa, fb);
    st[base] = o;
    st[base + 1] = t;
    st[base + 2] = fo;
    e
}

/// Adds a one-bit carry into st[from..]. The counter cannot overflow: every column sum is
/// below 2^P.
#[inline(always)]
fn ripple<W: Word, const P: usize>(mut c: W, st: &mut [W; P], from: usize) {
    for h in st.iter_mut().skip(from) {
        let n = h.and(c);
        *h = h.xor(c);
        c = n;
    }
}

/// The exact-range ADC on bit-planes: a sum with any bit at or above `bits` saturates, and its
/// code is all ones. Counts the saturated conversions; returns the code's planes.
#[inline(always)]
fn adc<W: Word, const P: usize>(st: &mut [W; P], bits: usize, sat: &mut u64) -> usize {
    if P <= bits {
        return P;
    }
    let over = st[bits..].iter().fold(W::zero(), |a, &p| a.or(p));
    *sat += over.ones();
    for p in st[..bits].iter_mut() {
        *p = p.or(over);
    }
    bits
}
