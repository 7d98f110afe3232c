//! One K x N matrix on tensors: programming (levels, flips, conductances) and runs. The maths,
//! the dtypes and why the noiseless result is exact are in the module doc (`super`).

use super::{engine_err, TorchEngine};
use nestevo_cim::{AnalogVariant, BackendError, CellNoise, XbarMatrix};
use nestevo_kernels::{
    exact_product_holds, float_adc, AdcMode, Counts, InputMode, KernelError, Programmed, ReadNoise,
    XbarConfig,
};
use std::sync::Mutex;
use tch::{Device, Kind, TchError, Tensor};

/// The programmed state on the device.
struct State {
    /// Exact path: levels after flipping, [T, R, N*slices] f32. Analogue path: the
    /// conductances as ADC inputs, (g - g_min) * inv_step * inv_lsb, [T, R', N*slices + C] f32
    /// (the last C columns the unit columns of the C column tiles), and below the R cell rows
    /// one row of 0.5 (the ADC's rounding offset, read by an input of 1) and zero rows up to R'
    /// (a multiple of 8).
    cells: Tensor,
    /// Analogue path: whether some conversion may fall below 0 (before the floor) and whether
    /// some may exceed the ADC's range, as the programmed conductances bound them for any input.
    analog_bounds: (bool, bool),
    /// Flip flags, bool [T, 1, N*slices].
    flip: Tensor,
    /// The column tile of every data column, i64 [N*slices] (analogue unit columns).
    col_tile: Tensor,
    /// Codes of the calibrated ADC for integer sums 0..=R*cell_max*dac_max, f32.
    lut: Option<Tensor>,
    /// 2^(s*bits_per_cell), i64 [slices].
    slice_w: Tensor,
    /// The merge in floats (`merge`): each column's weight with its flip's sign,
    /// +-2^(s*bits_per_cell), f32 [T, 1, N, slices]; and the unit columns' weight per output,
    /// sum_s 2^(s*bits_per_cell) over its flipped slices, f64 [T*F, N] (F = C on the analogue
    /// path, one column tile each, else 1). None where the sums could leave f64's integers.
    merge_w: Option<(Tensor, Tensor)>,
    /// The largest sum any conversion of the exact path can see: max over data columns of the
    /// stored column sum times dac_max, and, with flipping, used rows times dac_max.
    max_sum: i64,
    /// The signed weights as f64 [K, N], kept where a noiseless run is the exact product.
    linear: Option<Tensor>,
}

/// A matrix programmed on the LibTorch engine.
pub struct TorchMatrix {
    cfg: XbarConfig,
    k: usize,
    n: usize,
    row_tiles: usize,
    col_tiles: usize,
    device: Device,
    memory: usize,
    analog: bool,
    /// How the analogue path computes (`TorchEngine::analog`; `F32` off it).
    variant: AnalogVariant,
    /// Sum over K of each output's signed weights (offset-binary inputs).
    wsum: Vec<i64>,
    state: Mutex<State>,
}

/// Inputs as the DACs see them (the kernels' `inputs::prepare`, on the host).
struct Prepared {
    applied: Vec<i64>,
    cycle_weight: Vec<i64>,
    applied_sum: Vec<i64>,
    offset: i64,
}

fn kfail<T>(msg: String) -> Result<T, BackendError> {
    Err(BackendError::Kernel(KernelError(msg)))
}

/// The kernels' own range check and encoding (`nestevo_kernels::inputs::prepare`), with the
/// applied patterns widened for the tensors.
fn prepare(
    cfg: &XbarConfig,
    x: &[i64],
    batch: usize,
    k: usize,
    mode: InputMode,
) -> Result<Prepared, BackendError> {
    let p = nestevo_kernels::inputs::prepare(cfg, x, batch, k, mode)?;
    Ok(Prepared {
        applied: p.applied.iter().map(|&a| i64::from(a)).collect(),
        cycle_weight: p.cycle_weight,
        applied_sum: p.applied_sum,
        offset: p.offset,
    })
}

/// The kernels' checks: the knobs (by programming a 1 x 1 zero matrix) and the weights.
fn check(cfg: &XbarConfig, w: &[i64], k: usize, n: usize) -> Result<(), BackendError> {
    Programmed::new(cfg, &[0], 1, 1)?;
    if k == 0 || n == 0 || w.len() != k * n {
        return kfail(format!(
            "weights hold {} values, expected K {k} x N {n} = {} (both > 0)",
            w.len(),
            k * n
        ));
    }
    let bits = cfg.weight_bits;
    let (lo, hi) = (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1);
    if let Some((i, v)) = w.iter().enumerate().find(|(_, v)| **v < lo || **v > hi) {
        return kfail(format!(
            "weight [{}, {}] = {v} is outside the signed {bits}-bit range {lo}..={hi}",
            i / n,
            i % n
        ));
    }
    Ok(())
}

impl TorchMatrix {
    /// Programs a matrix, as `XbarEngine::program` does, keeping the concrete type.
    pub fn program(
        e: &TorchEngine,
        cfg: &XbarConfig,
        w: &[i64],
        k: usize,
        n: usize,
        cells: Option<CellNoise>,
    ) -> Result<Self, BackendError> {
        // The analogue path takes the kernels' conductance draws (bit for bit the same).
        let cpu = match cells {
            Some(c) => Some(Programmed::new(cfg, w, k, n)?.program_cells(&c.laws, c.seed)?),
            None => {
                check(cfg, w, k, n)?;
                None
            }
        };
        let row_tiles = k.div_ceil(cfg.rows);
        let col_tiles = n.div_ceil(cfg.outputs_per_xbar());
        let wsum = (0..n).map(|o| (0..k).map(|r| w[r * n + o]).sum()).collect();
        let m = TorchMatrix {
            cfg: cfg.clone(),
            k,
            n,
            row_tiles,
            col_tiles,
            device: e.device,
            memory: e.memory,
            analog: cpu.is_some(),
            variant: match cpu {
                Some(_) => e.analog,
                None => AnalogVariant::F32,
            },
            wsum,
            state: Mutex::new(State {
                cells: Tensor::new(),
                flip: Tensor::new(),
                col_tile: Tensor::new(),
                lut: None,
                slice_w: Tensor::new(),
                merge_w: None,
                max_sum: 0,
                linear: None,
                analog_bounds: (true, true),
            }),
        };
        let st = m
            .build(w, cpu.as_ref(), e.exact_product)
            .map_err(engine_err)?;
        *m.state.lock().expect("fresh lock") = st;
        Ok(m)
    }

    fn build(
        &self,
        w: &[i64],
        cpu: Option<&Programmed>,
        allow_product: bool,
    ) -> Result<State, TchError> {
        let _g = tch::no_grad_guard();
        let cfg = &self.cfg;
        let dev = self.device;
        let (k, n, t, c) = (self.k, self.n, self.row_tiles, self.col_tiles);
        let (rows, slices, bpc) = (cfg.rows, cfg.slices(), cfg.bits_per_cell as i64);
        let ns = n * slices;
        let cmax = cfg.cell_max() as i64;
        let bias = 1i64 << (cfg.weight_bits - 1);
        let (ti, ri, nsi) = (t as i64, rows as i64, ns as i64);
        // Biased weights, rows padded to T*R with u = 0 (level 0, never flipped below).
        let u = Tensor::f_from_slice(w)?
            .f_reshape([k as i64, n as i64])?
            .f_to_device(dev)?
            .f_add_scalar(bias)?
            .f_constant_pad_nd([0, 0, 0, (t * rows - k) as i64])?;
        let shifts = Tensor::f_arange(slices as i64, (Kind::Int64, dev))?.f_mul_scalar(bpc)?;
        let lv = u
            .f_unsqueeze(-1)?
            .f_bitwise_right_shift(&shifts)?
            .f_bitwise_and(cmax)?
            .f_reshape([ti, ri, nsi])?;
        let used: Vec<i64> = (0..t).map(|i| rows.min(k - i * rows) as i64).collect();
        let used = Tensor::f_from_slice(&used)?
            .f_to_device(dev)?
            .f_reshape([ti, 1, 1])?;
        let flip = if cfg.flip {
            // Flip when the stored sum exceeds half the full scale of the tile's used rows.
            lv.f_sum_dim_intlist([1i64].as_slice(), true, Kind::Int64)?
                .f_mul_scalar(2)?
                .f_gt_tensor(&used.f_mul_scalar(cmax)?)?
        } else {
            Tensor::f_zeros([ti, 1, nsi], (Kind::Bool, dev))?
        };
        let row_used = Tensor::f_arange(ri, (Kind::Int64, dev))?
            .f_reshape([1, ri, 1])?
            .f_lt_tensor(&used)?;
        let levels = lv
            .f_rsub_scalar(cmax)?
            .f_where_self(&flip.f_logical_and(&row_used)?, &lv)?;
        let dmax = cfg.dac_max() as i64;
        let col_max = levels
            .f_sum_dim_intlist([1i64].as_slice(), false, Kind::Int64)?
            .f_max()?
            .f_to_device(Device::Cpu)?
            .f_int64_value(&[])?;
        let unit_max = if cfg.flip { rows.min(k) as i64 } else { 0 };
        let max_sum = col_max.max(unit_max) * dmax;
        // The kernels' rule: every code then equals its sum, and the merged result is x w.
        let linear =
            (allow_product && cpu.is_none() && exact_product_holds(cfg, k, max_sum as u64))
                .then(|| {
                    Tensor::f_from_slice(w)?
                        .f_reshape([k as i64, n as i64])?
                        .f_to_device(dev)?
                        .f_to_kind(Kind::Double)
                })
                .transpose()?;
        let (cells, analog_bounds) = match cpu {
            None => (levels.f_to_kind(Kind::Float)?.f_contiguous()?, (true, true)),
            Some(p) => {
                let parts = self.parts();
                let (mut g, bounds) = analog_cells(cfg, p, (t, c, n), parts.is_some());
                let mut rp = analog_rows(rows) as i64;
                if let Some(kind) = parts {
                    g = split_parts(&g, rp as usize * (ns + c), kind);
                    rp *= 3;
                }
                let mut g = Tensor::f_from_slice(&g)?
                    .f_reshape([ti, rp, (ns + c) as i64])?
                    .f_to_device(dev)?;
                if let (Some(kind), true) = (parts, dev.is_cuda()) {
                    // Every part is a value of that kind: the conversion is exact.
                    g = g.f_to_kind(kind)?;
                }
                (g, bounds)
            }
        };
        let opx = cfg.outputs_per_xbar();
        let col_tile: Vec<i64> = (0..ns).map(|col| ((col / slices) / opx) as i64).collect();
        let lut = match cfg.adc_mode {
            AdcMode::Exact => None,
            AdcMode::Calibrated { full_scale } => {
                let max = cfg.max_code() as u64;
                let inv_lsb = max as f64 / full_scale;
                let smax = rows * cfg.cell_max() as usize * cfg.dac_max() as usize;
                // The kernels' `CalAdc::code`, in f64, for every integer sum.
                let tab: Vec<f32> = (0..=smax as u64)
                    .map(|s| ((s as f64 * inv_lsb + 0.5).floor() as u64).min(max) as f32)
                    .collect();
                Some(Tensor::f_from_slice(&tab)?.f_to_device(dev)?)
            }
        };
        let slice_w: Vec<i64> = (0..slices).map(|s| 1i64 << (s as i64 * bpc)).collect();
        let merge_w = self.merge_weights(&flip, &slice_w)?;
        Ok(State {
            cells,
            flip,
            col_tile: Tensor::f_from_slice(&col_tile)?.f_to_device(dev)?,
            lut,
            slice_w: Tensor::f_from_slice(&slice_w)?.f_to_device(dev)?,
            merge_w,
            max_sum,
            linear,
            analog_bounds,
        })
    }

    /// Vectors per chunk: the working set of one (see the module doc) within the budget.
    pub fn chunk(&self, batch: usize) -> usize {
        let (ns, rows, cyc) = (self.n * self.cfg.slices(), self.cfg.rows, self.cfg.cycles());
        let per_vec = self.row_tiles
            * if self.analog {
                // All cycles at once: the f32 ADC inputs (and read noise's draws), the levels
                // (i64 shifts, f32 copies); then the f32 and i64 sums, the flip fold.
                let rp = analog_rows(rows) * if self.parts().is_some() { 3 } else { 1 };
                cyc * ((ns + self.col_tiles) * 8 + rp * 24) + (ns + self.col_tiles) * 48
            } else {
                // All cycles at once: f32 sums and codes (i64 indices of the calibrated
                // table); then the i64 accumulator, its copies and the flip fold.
                cyc * (ns * 16 + rows * 12) + ns * 32
            };
        (self.memory / per_vec.max(1)).clamp(1, batch.max(1))
    }

    /// The device the tensors live on.
    pub fn device(&self) -> Device {
        self.device
    }

    /// Whether a noiseless run is the exact product (the kernels' `exact_product`).
    pub fn exact_product(&self) -> bool {
        self.state
            .lock()
            .map(|s| s.linear.is_some())
            .unwrap_or(false)
    }

    /// Analogue path: the variant whose ADC a run without read noise takes in the products'
    /// epilogue, where the programmed bounds need neither clamp nor count: `Epilogue` (f32
    /// products, codes below 1024) or `F16` (f16 products and codes, codes below 512); None
    /// where the ADC runs as passes after the products.
    pub fn epilogue_adc(&self) -> Option<AnalogVariant> {
        self.coded(self.analog_bounds()).map(|_| self.variant)
    }

    /// The ADC in the products' epilogue a run without read noise takes, given the programmed
    /// bounds: none where they need the clamp or the count; f16 products before f32 ones.
    fn coded(&self, (below, above): (bool, bool)) -> Option<&'static CodedAdc> {
        let candidate = match self.variant {
            AnalogVariant::F16 => &HALF,
            AnalogVariant::Epilogue => &EPILOGUE,
            AnalogVariant::F32 | AnalogVariant::Bf16 => return None,
        };
        (!below && !above && self.cfg.max_code() < candidate.codes_below).then_some(candidate)
    }

    /// The dtype of the analogue cells' three parts, if split (`split_parts`).
    fn parts(&self) -> Option<Kind> {
        match self.variant {
            AnalogVariant::F16 => Some(Kind::Half),
            AnalogVariant::Bf16 => Some(Kind::BFloat16),
            AnalogVariant::F32 | AnalogVariant::Epilogue => None,
        }
    }

    /// The levels [T, reads, R'] against the cells: once for each of their three parts where
    /// they are split (`split_parts`), else as they are.
    fn levels_per_part(&self, x: &Tensor) -> Result<Tensor, TchError> {
        match self.parts() {
            Some(_) => Tensor::f_cat(&[x, x, x], 2),
            None => Ok(x.shallow_clone()),
        }
    }

    /// Analogue path: whether its ADC must clamp at 0, and whether it must count saturations
    /// and clamp at the top, for some input without read noise (the programmed bounds).
    pub fn analog_bounds(&self) -> (bool, bool) {
        self.state
            .lock()
            .map(|s| s.analog_bounds)
            .unwrap_or((true, true))
    }

    /// y = x w of a checked batch [batch, K] in f64 on the device, in chunks within the budget.
    /// The inputs go to the device and the products come back without a host copy: the host
    /// ends of both transfers are tensors over the caller's slices.
    fn product(&self, w: &Tensor, x: &[i64], batch: usize) -> Result<Vec<i64>, TchError> {
        let (k, n, dev) = (self.k, self.n, self.device);
        let per = self.product_chunk(batch);
        let mut out = vec![0i64; batch * n];
        for v0 in (0..batch).step_by(per) {
            let bv = (v0 + per).min(batch) - v0;
            let xs = &x[v0 * k..(v0 + bv) * k];
            let ys = &mut out[v0 * n..(v0 + bv) * n];
            let (bi, ki, ni) = (bv as i64, k as i64, n as i64);
            // SAFETY: each blob covers exactly its slice (bv x K and bv x N i64, row-major), is
            // only read (xs) or written by the one copy below (ys), and is dropped before this
            // iteration ends, while both slices are still borrowed.
            let (xt, mut yt) = unsafe {
                (
                    Tensor::f_from_blob(
                        xs.as_ptr().cast(),
                        &[bi, ki],
                        &[ki, 1],
                        Kind::Int64,
                        Device::Cpu,
                    )?,
                    Tensor::f_from_blob(
                        ys.as_mut_ptr().cast(),
                        &[bi, ni],
                        &[ni, 1],
                        Kind::Int64,
                        Device::Cpu,
                    )?,
                )
            };
            let y = xt
                .f_to_device(dev)?
                .f_to_kind(Kind::Double)?
                .f_matmul(w)?
                .f_to_kind(Kind::Int64)?;
            yt.f_copy_(&y)?;
        }
        Ok(out)
    }

    /// [T, cycles * bv, R] f32: the levels every cycle applies to the rows of `bv` applied
    /// patterns [T, bv, R] (i64), cycle-major.
    fn cycle_levels(&self, xa: &Tensor, bv: usize, cyc: i64) -> Result<Tensor, TchError> {
        let cfg = &self.cfg;
        let shifts = Tensor::f_arange(cyc, (Kind::Int64, self.device))?
            .f_mul_scalar(cfg.dac_bits as i64)?
            .f_reshape([1, cyc, 1, 1])?;
        xa.f_unsqueeze(1)?
            .f_bitwise_right_shift(&shifts)?
            .f_bitwise_and(cfg.dac_max() as i64)?
            .f_to_kind(Kind::Float)?
            .f_reshape([self.row_tiles as i64, cyc * bv as i64, cfg.rows as i64])
    }

    /// The exact path of one chunk: every cycle's column sums in one batched product
    /// [T, cycles*bv, R] x [T, R, N*slices], the ADC on every sum (its clamp and saturation
    /// count skipped only where `max_sum` proves no conversion can leave the range), and the
    /// shift-and-add over the cycles. Returns the i64 per-column accumulator [T, bv, N*slices],
    /// the unit column's F [T, bv, 1] and the saturations.
    fn exact_cycles(
        &self,
        st: &State,
        xa: &Tensor,
        bv: usize,
        cycle_weight: &[i64],
    ) -> Result<(Tensor, Tensor, Tensor), TchError> {
        let cfg = &self.cfg;
        let dev = self.device;
        let (t, c) = (self.row_tiles as i64, self.col_tiles as i64);
        let ns = (self.n * cfg.slices()) as i64;
        let (bvi, cyc) = (bv as i64, cycle_weight.len() as i64);
        let max = cfg.max_code() as f64;
        // Saturation threshold for integer sums: S > max, or S > FS i.e. S > floor(FS).
        let thr = match cfg.adc_mode {
            AdcMode::Exact => max,
            AdcMode::Calibrated { full_scale } => full_scale.floor().min((1u64 << 24) as f64),
        };
        let may_sat = st.max_sum as f64 > thr;
        let code = |s: Tensor| -> Result<Tensor, TchError> {
            match &st.lut {
                None if !may_sat => Ok(s),
                None => s.f_clamp_max(max),
                Some(l) => l.f_take(&s.f_to_kind(Kind::Int64)?),
            }
        };
        // Codes are at most the top code, and (exact range) at most the largest sum.
        let vmax = match st.lut {
            Some(_) => max,
            None => max.min(st.max_sum as f64),
        };
        let x = self.cycle_levels(xa, bv, cyc)?;
        let s = x.f_bmm(&st.cells)?;
        let mut sat = Tensor::f_zeros([1], (Kind::Int64, dev))?;
        if may_sat {
            sat = sat.f_add(&s.f_gt(thr)?.f_sum(Kind::Int64)?)?;
        }
        let codes = code(s)?.f_reshape([t, cyc, bvi * ns])?;
        let acc = cycle_sum(&codes, cycle_weight, vmax)?.f_reshape([t, bvi, ns])?;
        let fsum = if cfg.flip {
            let u = x.f_sum_dim_intlist([-1i64].as_slice(), false, Kind::Float)?;
            if may_sat {
                // Every column tile's crossbar converts the same unit-column sum.
                let n_over = u.f_gt(thr)?.f_sum(Kind::Int64)?.f_mul_scalar(c)?;
                sat = sat.f_add(&n_over)?;
            }
            let uc = code(u)?.f_reshape([t, cyc, bvi])?;
            cycle_sum(&uc, cycle_weight, vmax)?
                .f_to_kind(Kind::Int64)?
                .f_mul_scalar(cfg.cell_max() as i64)?
                .f_reshape([t, bvi, 1])?
        } else {
            Tensor::f_zeros([t, bvi, 1], (Kind::Int64, dev))?
        };
        Ok((acc, fsum, sat))
    }

    /// The analogue path of one chunk, every cycle at once: one batched product
    /// [T, cycles * bv, R'] x cells gives every conversion's ADC input
    /// v = (I - g_min sum_r x_r) * inv_step * inv_lsb + 0.5 (offset, scalings and the rounding's
    /// half are in the programmed tensor: see `analog_cells`), read noise is added, and the
    /// kernels' `FloatAdc` is floor(v) clamped to 0..=max; the clamp and the saturation count
    /// are skipped where the programmed conductances prove that no conversion can leave the
    /// range (`analog_bounds`; never with read noise). The shift-and-add over the cycles is
    /// `cycle_sum`'s exact f32 products. Returns the accumulator [T, bv, N*slices], the unit
    /// columns' F [T, bv, C] and the saturations.
    ///
    /// The tensor of ADC inputs is the whole memory traffic (the product's operands are small
    /// beside it): it is written once by the product, floored in place and read once by the
    /// shift-and-add, where a cycle-by-cycle ADC and accumulator passed over it about 15 times.
    /// Where that floor is not needed (no clamp, no count, no read noise) the opt-in variants
    /// round in the product's epilogue instead and the shift-and-add reads f16 codes
    /// (`coded_products`, then `cycle_sum_f16`).
    fn analog_cycles(
        &self,
        st: &State,
        xa: &Tensor,
        bv: usize,
        cycle_weight: &[i64],
        read_sd: Option<f32>,
    ) -> Result<(Tensor, Tensor, Tensor), TchError> {
        let cfg = &self.cfg;
        let dev = self.device;
        let (ti, bvi) = (self.row_tiles as i64, bv as i64);
        let nsi = (self.n * cfg.slices()) as i64;
        let units = self.col_tiles as i64;
        let cols = nsi + units;
        let (rows, rp) = (cfg.rows as i64, analog_rows(cfg.rows) as i64);
        let cyc = cycle_weight.len() as i64;
        let max = cfg.max_code() as f64;
        let adc = AnalogAdc::of(cfg);
        let (below, above) = match read_sd {
            Some(_) => (true, true),
            None => st.analog_bounds,
        };
        let lv = self.cycle_levels(xa, bv, cyc)?;
        // Then zeros to R' (the 0.5 row unread).
        let x = lv.f_constant_pad_nd([0, rp - rows])?;
        let coded = match read_sd {
            Some(_) => None,
            None => self.coded(st.analog_bounds),
        };
        if let Some(c) = coded {
            let codes = self
                .coded_products(st, &x, cols, c)?
                .f_reshape([ti, cyc, -1])?;
            let acc =
                cycle_sum_f16(&codes, cycle_weight, max, c.read)?.f_reshape([ti, bvi, cols])?;
            let fsum = self.unit_sums(&acc, nsi, units, bvi)?;
            let sat = Tensor::f_zeros([1], (Kind::Int64, dev))?;
            return Ok((acc.f_narrow(2, 0, nsi)?, fsum, sat));
        }
        // The input of 1 that reads the 0.5 row.
        let _ = x.f_narrow(2, rows, 1)?.f_fill_(1.0)?;
        let x = self.levels_per_part(&x)?;
        let mut v = match (self.parts(), dev.is_cuda()) {
            // The parts' own dtype on the device (tensor cores), their f32 values on the CPU.
            (Some(kind), true) => x.f_to_kind(kind)?.f_bmm_dtype(&st.cells, Kind::Float)?,
            _ => x.f_bmm(&st.cells)?,
        };
        if let Some(sd) = read_sd {
            // The kernels' law: a column total N(0, (mu cell_max)^2 sum_r x_r^2) cell steps.
            let sd = lv
                .f_square()?
                .f_sum_dim_intlist([-1i64].as_slice(), true, Kind::Float)?
                .f_sqrt()?
                .f_mul_scalar(sd as f64 * adc.inv_lsb)?;
            let mut z = Tensor::f_randn([ti, cyc * bvi, cols], (Kind::Float, dev))?;
            let _ = v.f_add_(&z.f_mul_(&sd)?)?;
        }
        let mut sat = Tensor::f_zeros([1], (Kind::Int64, dev))?;
        if above {
            // Without flipping the unit columns are converted but never read: not counted.
            let counted = if cfg.flip { cols } else { nsi };
            sat = v
                .f_narrow(2, 0, counted)?
                .f_gt(adc.sat_v)?
                .f_sum(Kind::Int64)?
                .f_reshape([1])?;
        }
        let _ = v.f_floor_()?;
        if below || above {
            let _ = v.f_clamp_(0.0, max)?;
        }
        let acc = cycle_sum(&v.f_reshape([ti, cyc, bvi * cols])?, cycle_weight, max)?
            .f_reshape([ti, bvi, cols])?;
        let fsum = self.unit_sums(&acc, nsi, units, bvi)?;
        Ok((acc.f_narrow(2, 0, nsi)?, fsum, sat))
    }

    /// The unit columns' F [T, bv, C] i64 from the shift-and-added analogue columns (zeros
    /// without flipping: those columns are converted but never read).
    fn unit_sums(&self, acc: &Tensor, nsi: i64, units: i64, bvi: i64) -> Result<Tensor, TchError> {
        if self.cfg.flip {
            acc.f_narrow(2, nsi, units)?
                .f_to_kind(Kind::Int64)?
                .f_mul_scalar(self.cfg.cell_max() as i64)
        } else {
            Tensor::f_zeros(
                [self.row_tiles as i64, bvi, units],
                (Kind::Int64, self.device),
            )
        }
    }

    /// The analogue path's codes from the products' epilogue (`CodedAdc`), where the
    /// programmed bounds prove that no conversion leaves the ADC's range (no clamp, no
    /// saturation count). Each row tile's product [cycles * bv, R'] x cells (the 0.5 row
    /// unread; for f16, the levels against the cells' three parts) plus the bias, stored in the
    /// product's dtype, is the bias plus the code round(v - 0.5). Returns the results viewed as
    /// f16, [T, cycles * bv, cols * (4 / 2 bytes)], as `CodedAdc::read` describes them.
    ///
    /// On CUDA the bias is a 1-D `addmm` bias, which cuBLASLt adds to the f32 accumulator in the
    /// product's epilogue: the ADC inputs are written once by the product and read once by the
    /// shift-and-add (`cycle_sum_f16`), without the floor pass; f32: 8 bytes a conversion where
    /// the floor path moves 16, f16: 4, with the products on tensor cores. On the CPU (for
    /// tests) MKL adds blocks of the inner dimension into its output one after another, which
    /// would round each block's partial sum, so the bias is added after an f32 product, then
    /// stored in the dtype: as on CUDA for f16, one rounding more for f32.
    ///
    /// round() takes ties to even where the kernels' floor(v) takes them up. For f32 a code
    /// thus differs only where v - 0.5 is a half-integer in f32. For f16 the sum with the bias
    /// is an f32 (resolution 2^-13 near 1536) before the f16 store rounds it to an integer, so
    /// a code can also differ where v - 0.5 lies within 2^-14 of a half-integer, and the parts'
    /// sum can differ from the f32 value by 2^-25 where the smallest part is subnormal. The
    /// nominal conductances' sums are integers: equal.
    fn coded_products(
        &self,
        st: &State,
        x: &Tensor,
        cols: i64,
        c: &CodedAdc,
    ) -> Result<Tensor, TchError> {
        let dev = self.device;
        let x = self.levels_per_part(x)?;
        let out = if dev.is_cuda() {
            let x = x.f_to_kind(c.kind)?;
            let (ti, reads) = (self.row_tiles as i64, x.size()[1]);
            let out = Tensor::f_empty([ti, reads, cols], (c.kind, dev))?;
            let bias = Tensor::f_full([cols], c.bias, (c.kind, dev))?;
            for t in 0..ti {
                let ot = out.f_select(0, t)?;
                let _ = bias.f_addmm_out(&ot, &x.f_select(0, t)?, &st.cells.f_select(0, t)?)?;
            }
            out
        } else {
            let mut v = x.f_bmm(&st.cells)?;
            let _ = v.f_add_scalar_(c.bias)?;
            v.f_to_kind(c.kind)?
        };
        out.f_view_dtype(Kind::Half)
    }

    /// y [bv, N] before the tail (i64, on the device), and the saturated conversions (an i64
    /// [1] on the device), of `bv` applied patterns `applied` ([bv, K] i64 on the device).
    fn run_chunk(
        &self,
        st: &State,
        applied: &Tensor,
        bv: usize,
        cycle_weight: &[i64],
        read_sd: Option<f32>,
    ) -> Result<(Tensor, Tensor), TchError> {
        let cfg = &self.cfg;
        let (k, t, rows) = (self.k, self.row_tiles, cfg.rows);
        let (ti, bvi) = (t as i64, bv as i64);
        // [T, bv, R] applied patterns, rows past K zero.
        let xa = applied
            .f_constant_pad_nd([0, (t * rows - k) as i64])?
            .f_reshape([bvi, ti, rows as i64])?
            .f_permute([1, 0, 2])?
            .f_contiguous()?;
        let (acc, fsum, sat) = if self.analog {
            self.analog_cycles(st, &xa, bv, cycle_weight, read_sd)?
        } else {
            self.exact_cycles(st, &xa, bv, cycle_weight)?
        };
        Ok((self.merge(st, acc, fsum, bv)?, sat))
    }

    /// y [bv, N] i64 from the shift-and-added columns `acc` [T, bv, N*slices] (f32 or i64) and
    /// the unit columns' F [T, bv, F] i64 (F = C on the analogue path, else 1). A flipped
    /// column reports cell_max * code(U) - code(S'), summed over the cycles F - A, so
    /// y = sum_{t,s} 2^(s*bits) (flipped ? -A : A) + sum_t F[t, tile(n)] * G[t, n], where G is
    /// the sum of 2^(s*bits) over the output's flipped slices (`State::merge_w`).
    ///
    /// Where `acc` is f32 (|A| < 2^24, `cycle_sum`) each A * +-2^(s*bits) is exact in f32, the
    /// sum over tiles and slices runs in f64 and the unit term is one f64 product: every
    /// partial sum an integer below 2^53 (the bound `merge_weights` checks), so exact in any
    /// order. That is two passes over the chunk's columns where the i64 fold and merge take
    /// about eight. Otherwise the same sums in i64.
    fn merge(&self, st: &State, acc: Tensor, fsum: Tensor, bv: usize) -> Result<Tensor, TchError> {
        let cfg = &self.cfg;
        let (n, slices) = (self.n as i64, cfg.slices() as i64);
        let (ti, bvi, nsi) = (self.row_tiles as i64, bv as i64, n * slices);
        if let (Kind::Float, Some((coef, g))) = (acc.kind(), &st.merge_w) {
            let mut a = acc.f_reshape([ti, bvi, n, slices])?;
            let _ = a.f_mul_(coef)?;
            let y = a.f_sum_dim_intlist([0i64, 3].as_slice(), false, Kind::Double)?;
            let y = if cfg.flip {
                let f = fsum
                    .f_to_kind(Kind::Double)?
                    .f_permute([1, 0, 2])?
                    .f_reshape([bvi, -1])?;
                y.f_add(&f.f_mm(g)?)?
            } else {
                y
            };
            return y.f_to_kind(Kind::Int64);
        }
        let mut acc = acc.f_to_kind(Kind::Int64)?;
        if cfg.flip {
            let fcol = if self.analog {
                fsum.f_index_select(2, &st.col_tile)?
            } else {
                fsum.f_expand([ti, bvi, nsi], false)?
            };
            acc = fcol.f_sub(&acc)?.f_where_self(&st.flip, &acc)?;
        }
        acc.f_reshape([ti, bvi, n, slices])?
            .f_mul(&st.slice_w)?
            .f_sum_dim_intlist([0i64, 3].as_slice(), false, Kind::Int64)
    }

    /// `State::merge_w` from the flip flags [T, 1, N*slices] and the slice weights, or None
    /// where some partial sum of `merge` could reach 2^53: T * sum_s 2^(s*bits) *
    /// (1 + cell_max) * 2^24 bounds them all.
    fn merge_weights(
        &self,
        flip: &Tensor,
        slice_w: &[i64],
    ) -> Result<Option<(Tensor, Tensor)>, TchError> {
        let cfg = &self.cfg;
        let dev = self.device;
        let (t, n, slices) = (self.row_tiles as i64, self.n as i64, cfg.slices() as i64);
        let sw_sum: f64 = slice_w.iter().map(|&w| w as f64).sum();
        let bound = t as f64 * sw_sum * (1.0 + cfg.cell_max() as f64) * (1u64 << 24) as f64;
        if bound >= (1u64 << 53) as f64 {
            return Ok(None);
        }
        let sw = Tensor::f_from_slice(slice_w)?
            .f_to_device(dev)?
            .f_to_kind(Kind::Double)?;
        let f = flip.f_reshape([t, 1, n, slices])?.f_to_kind(Kind::Double)?;
        // sw * (1 - 2 flip): a power of two with its sign, exact in f32.
        let coef = f
            .f_mul_scalar(-2.0)?
            .f_add_scalar(1.0)?
            .f_mul(&sw)?
            .f_to_kind(Kind::Float)?;
        let g = f
            .f_mul(&sw)?
            .f_sum_dim_intlist([1i64, 3].as_slice(), false, Kind::Double)?;
        let g = if self.analog {
            // [T, C, N]: each output's G in the row of its column tile, zero elsewhere.
            let c = self.col_tiles as i64;
            let opx = cfg.outputs_per_xbar();
            let onehot: Vec<f64> = (0..c as usize)
                .flat_map(|ct| (0..self.n).map(move |o| (o / opx == ct) as u8 as f64))
                .collect();
            let onehot = Tensor::f_from_slice(&onehot)?
                .f_to_device(dev)?
                .f_reshape([1, c, n])?;
            g.f_unsqueeze(1)?.f_mul(&onehot)?.f_reshape([t * c, n])?
        } else {
            g
        };
        Ok(Some((coef, g)))
    }

    /// The counts of a run of `batch` vectors with `sat` saturated conversions: every other
    /// figure follows from the shapes, as the kernels count it.
    fn counts(&self, batch: usize, sat: u64) -> Counts {
        let cfg = &self.cfg;
        let (k, n) = (self.k, self.n);
        let (t, c) = (self.row_tiles as u64, self.col_tiles as u64);
        let reads = cfg.cycles() as u64 * batch as u64;
        let cols = t * (n * cfg.slices()) as u64;
        Counts {
            crossbars: t * c,
            crossbar_reads: t * c * reads,
            dac_pulses: k as u64 * c * reads,
            adc_conversions: (cols + cfg.flip as u64 * t * c) * reads,
            adc_saturations: sat,
            shift_adds: cols * reads,
            vectors: batch as u64,
            macs: (k * n * batch) as u64,
        }
    }

    /// The chunks of a run of `batch` prepared patterns (`chunk_of(v0, v1)` gives a chunk's
    /// [bv, K] i64 patterns on the device): y [batch, N] before the tail and the saturations.
    /// Read noise is seeded per chunk from its first vector, so both entry points draw alike.
    fn run_chunks(
        &self,
        st: &State,
        batch: usize,
        chunk_of: &dyn Fn(usize, usize) -> Result<Tensor, TchError>,
        cycle_weight: &[i64],
        read: Option<ReadNoise>,
    ) -> Result<(Vec<Tensor>, Tensor), TchError> {
        let read_sd = read.map(|r| (r.mu * self.cfg.cell_max() as f64) as f32);
        let per = self.chunk(batch);
        let mut ys = Vec::with_capacity(batch.div_ceil(per));
        let mut sat = Tensor::f_zeros([1], (Kind::Int64, self.device))?;
        for v0 in (0..batch).step_by(per) {
            let v1 = (v0 + per).min(batch);
            let xa = chunk_of(v0, v1)?;
            let (y, s) = match read {
                Some(r) => {
                    let _lock = RNG.lock().unwrap_or_else(|p| p.into_inner());
                    // A chunk's draws depend on the seed and its first vector only.
                    tch::manual_seed(
                        (r.seed ^ (v0 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)) as i64,
                    );
                    self.run_chunk(st, &xa, v1 - v0, cycle_weight, read_sd)
                }
                None => self.run_chunk(st, &xa, v1 - v0, cycle_weight, None),
            }?;
            ys.push(y);
            sat = sat.f_add(&s)?;
        }
        Ok((ys, sat))
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>, BackendError> {
        self.state.lock().map_err(|_| BackendError::Engine {
            backend: "torch",
            msg: "a previous run panicked while holding this matrix".into(),
        })
    }

    /// A run on device data: `x` [B, K] i64 integer inputs on this matrix's device -> y_int
    /// [B, N] i64 on the device (after bias removal, before scaling) and the counts. The same
    /// arithmetic, noise draws and counts as `XbarMatrix::run` on the same values; the range
    /// check runs on the device (the offending value is read back only on failure), the DAC
    /// encoding and the tail (calibrated LSB, bias and offset removal) are tensor ops.
    pub fn run_tensor(
        &self,
        x: &Tensor,
        mode: InputMode,
        read: Option<ReadNoise>,
    ) -> Result<(Tensor, Counts), BackendError> {
        let cfg = &self.cfg;
        let (k, n) = (self.k, self.n);
        let size = x.size();
        if size.len() != 2 || size[1] != k as i64 || x.kind() != Kind::Int64 {
            return kfail(format!(
                "device inputs of shape {size:?} and kind {:?}: expected [batch, K {k}] Int64",
                x.kind()
            ));
        }
        if x.device() != self.device {
            return kfail(format!(
                "device inputs on {:?}: the matrix is on {:?}",
                x.device(),
                self.device
            ));
        }
        if read.is_some() && !self.analog {
            return kfail("read noise needs the analogue path: program conductances first".into());
        }
        let batch = size[0] as usize;
        let st = self.lock()?;
        let _g = tch::no_grad_guard();
        self.check_tensor(x, batch, mode)?;
        let dev = self.device;
        if batch == 0 {
            let y = Tensor::f_zeros([0, n as i64], (Kind::Int64, dev)).map_err(engine_err)?;
            return Ok((y, self.counts(0, 0)));
        }
        if let Some(w) = &st.linear {
            let y = self.product_tensor(w, x, batch).map_err(engine_err)?;
            return Ok((y, self.counts(batch, 0)));
        }
        // The kernels' encoding of an empty batch gives the cycle weights and the offset.
        let enc = nestevo_kernels::inputs::prepare(cfg, &[], 0, k, mode)?;
        let run = || -> Result<(Tensor, u64), TchError> {
            let mask = (1i64 << cfg.input_bits) - 1;
            let shifted = x.f_add_scalar(enc.offset)?;
            let applied = shifted.f_bitwise_and(mask)?;
            let applied_sum = shifted.f_sum_dim_intlist([1i64].as_slice(), true, Kind::Int64)?;
            let chunk_of = |v0: usize, v1: usize| applied.f_narrow(0, v0 as i64, (v1 - v0) as i64);
            let (ys, sat) = self.run_chunks(&st, batch, &chunk_of, &enc.cycle_weight, read)?;
            let y = Tensor::f_cat(&ys, 0)?;
            // The kernels' tail: LSB scaling (rounded once, half away from zero), bias removal.
            let steps = match cfg.adc_mode {
                AdcMode::Exact => y,
                AdcMode::Calibrated { full_scale } => round_half_away(
                    &y.f_to_kind(Kind::Double)?
                        .f_mul_scalar(full_scale / cfg.max_code() as f64)?,
                )?
                .f_to_kind(Kind::Int64)?,
            };
            let bias = 1i64 << (cfg.weight_bits - 1);
            let wsum = Tensor::f_from_slice(&self.wsum)?
                .f_to_device(dev)?
                .f_reshape([1, n as i64])?;
            let y = steps
                .f_sub(&applied_sum.f_mul_scalar(bias)?)?
                .f_sub(&wsum.f_mul_scalar(enc.offset)?)?;
            let sat = sat.f_to_device(Device::Cpu)?.f_int64_value(&[0])?;
            Ok((y, sat as u64))
        };
        let (y, sat) = run().map_err(engine_err)?;
        Ok((y, self.counts(batch, sat)))
    }

    /// The kernels' range check of device inputs: on the device, the first offending value
    /// read back (and named by the kernels' own message) only when there is one.
    fn check_tensor(&self, x: &Tensor, batch: usize, mode: InputMode) -> Result<(), BackendError> {
        let (lo, hi) = nestevo_kernels::inputs::input_range(self.cfg.input_bits, mode);
        let bad = || -> Result<bool, TchError> {
            Ok(x.f_lt(lo)?
                .f_logical_or(&x.f_gt(hi)?)?
                .f_any()?
                .f_to_device(Device::Cpu)?
                .f_int64_value(&[])?
                != 0)
        };
        if bad().map_err(engine_err)? {
            let host = Vec::<i64>::try_from(
                x.f_to_device(Device::Cpu)
                    .and_then(|h| h.f_reshape([-1]))
                    .map_err(engine_err)?,
            )
            .map_err(engine_err)?;
            nestevo_kernels::inputs::check(&self.cfg, &host, batch, self.k, mode)?;
        }
        Ok(())
    }

    /// Vectors per chunk of the exact product within the memory budget: per vector its i64
    /// inputs, their f64 copy, the f64 product and its i64 copy.
    fn product_chunk(&self, batch: usize) -> usize {
        (self.memory / ((self.k + self.n) * 16).max(1)).clamp(1, batch.max(1))
    }

    /// y = x w of device inputs [batch, K] i64 in f64 on the device, in chunks within the
    /// budget, as i64 [batch, N].
    fn product_tensor(&self, w: &Tensor, x: &Tensor, batch: usize) -> Result<Tensor, TchError> {
        let per = self.product_chunk(batch);
        let mut ys = Vec::with_capacity(batch.div_ceil(per));
        for v0 in (0..batch).step_by(per) {
            let bv = (v0 + per).min(batch) - v0;
            ys.push(
                x.f_narrow(0, v0 as i64, bv as i64)?
                    .f_to_kind(Kind::Double)?
                    .f_matmul(w)?
                    .f_to_kind(Kind::Int64)?,
            );
        }
        match ys.len() {
            1 => Ok(ys.pop().expect("one chunk")),
            _ => Tensor::f_cat(&ys, 0),
        }
    }
}

/// Rounding half away from zero (Rust's `f64::round`, the kernels' rounding) of an f64 or f32
/// tensor; torch's `round` goes half to even. The fraction v - trunc(v) is exact in floating
/// point, so the ties are found exactly.
pub fn round_half_away(v: &Tensor) -> Result<Tensor, TchError> {
    let t = v.f_trunc()?;
    let up = v.f_sub(&t)?.f_abs()?.f_ge(0.5)?.f_to_kind(v.kind())?;
    t.f_add(&v.f_sign()?.f_mul(&up)?)
}

/// Rows of the analogue cells tensor: R cell rows, the 0.5 row, zero rows to a multiple of 8.
fn analog_rows(rows: usize) -> usize {
    (rows + 1).next_multiple_of(8)
}

/// The kernels' `FloatAdc` in the analogue tensors' units (LSBs).
struct AnalogAdc {
    /// Cell steps to LSBs: 1 in the exact range, max / FS calibrated (the kernels' f32).
    inv_lsb: f64,
    /// A conversion saturates where v = steps * inv_lsb + 0.5 exceeds this (the kernels:
    /// steps > sat_above).
    sat_v: f64,
}

impl AnalogAdc {
    fn of(cfg: &XbarConfig) -> Self {
        let adc = float_adc(cfg.adc_mode, cfg.max_code());
        let inv_lsb = f64::from(adc.inv_lsb);
        AnalogAdc {
            inv_lsb,
            sat_v: f64::from(adc.sat_above) * inv_lsb + 0.5,
        }
    }
}

/// The analogue path's programmed tensor [T, R', N*slices + C] (row-major, as a flat vector)
/// from the kernels' conductance draws: each cell's (g - g_min) * inv_step * inv_lsb (computed
/// in f64, stored in f32), so that one product of the input levels gives the ADC's input in
/// LSBs with the g_min offset removed, and a row of 0.5 under the cells (which an input of one
/// reads) for the rounding floor(v + 0.5). The kernels subtract g_min sum_r x_r from the f32
/// column current and scale after; the two differ by f32 rounding (about 1e-5 cell steps), as
/// the summation orders already do.
///
/// Also whether, for some input, a conversion may fall below 0 before the floor, and whether it
/// may reach the saturation threshold or the code above the top one: from each column's sums of
/// its positive and negative cells times dac_max, widened by a bound on the rounding of an f32
/// accumulation of R' terms (3 R' where the product takes the cells' three bf16 parts).
fn analog_cells(
    cfg: &XbarConfig,
    p: &Programmed,
    (t, c, n): (usize, usize, usize),
    parts: bool,
) -> (Vec<f32>, (bool, bool)) {
    let (rows, slices, rp) = (cfg.rows, cfg.slices(), analog_rows(cfg.rows));
    let ns = n * slices;
    let cw_all = ns + c;
    let adc = AnalogAdc::of(cfg);
    let scale = cfg.cell_max() as f64 / (cfg.g_max - cfg.g_min) * adc.inv_lsb;
    let gmin = cfg.g_min;
    let f = |g: f32| ((g as f64 - gmin) * scale) as f32;
    let opx = cfg.outputs_per_xbar();
    let mut g = vec![0f32; t * rp * cw_all];
    for i in 0..t * c {
        let (tt, cc) = (i / c, i % c);
        let (cond, cw) = p.conductances(i);
        let col0 = cc * opx * slices;
        for (r, src) in cond.chunks_exact(cw).enumerate() {
            let dst = &mut g[(tt * rp + r) * cw_all..][..cw_all];
            for (d, &s) in dst[col0..col0 + cw - 1].iter_mut().zip(&src[..cw - 1]) {
                *d = f(s);
            }
            dst[ns + cc] = f(src[cw - 1]);
        }
    }
    let dmax = cfg.dac_max() as f64;
    let (mut below, mut above) = (false, false);
    let top = adc.sat_v.min(cfg.max_code() as f64 + 1.0);
    let terms = (rp * if parts { 3 } else { 1 }) as f64;
    for tile in g.chunks_exact_mut(rp * cw_all) {
        let (mut pos, mut neg) = (vec![0f64; cw_all], vec![0f64; cw_all]);
        for row in tile[..rows * cw_all].chunks_exact(cw_all) {
            for ((p, q), &v) in pos.iter_mut().zip(neg.iter_mut()).zip(row) {
                if v > 0.0 {
                    *p += v as f64;
                } else {
                    *q += v as f64;
                }
            }
        }
        for (&p, &q) in pos.iter().zip(&neg) {
            // An f32 sum of n terms lies within n units of rounding (2^-24, relative) of the
            // sum of their magnitudes of the exact one; four times that, for accumulators that
            // truncate (tensor cores) and for slack (which also covers f16 parts' 2^-25 a term).
            let err = (terms + 2.0) * 2f64.powi(-22) * dmax * (p - q + 1.0);
            below |= 0.5 + dmax * q - err < 0.0;
            above |= 0.5 + dmax * p + err >= top;
        }
        tile[rows * cw_all..(rows + 1) * cw_all].fill(0.5);
    }
    (g, (below, above))
}

/// Each row block of `block` values of the analogue cells split into three row blocks of
/// `kind` values: hi = round(v), mid = round(v - hi), lo = round(v - hi - mid).
///
/// bf16: rounding to 8 significant bits leaves a remainder exact in f32 with at most 16 of
/// them, so two roundings leave at most 8: lo is exact, and the parts' sum is exactly the f32
/// value. f16 (11 bits, but no exponent below 2^-24): three parts hold f32's 24 bits wherever
/// the last one is a normal f16; where it is subnormal it is rounded to a multiple of 2^-24, at
/// most 2^-25 off. A product of levels (small integers, exact in both) with the three blocks,
/// accumulated in f32, is then the f32 product of the cells up to the accumulation's rounding
/// (and, for f16, those 2^-25).
fn split_parts(g: &[f32], block: usize, kind: Kind) -> Vec<f32> {
    let round = match kind {
        Kind::Half => |v: f32| half::f16::from_f32(v).to_f32(),
        _ => |v: f32| half::bf16::from_f32(v).to_f32(),
    };
    let mut out = vec![0f32; g.len() * 3];
    for (src, dst) in g.chunks_exact(block).zip(out.chunks_exact_mut(3 * block)) {
        let (hi, rest) = dst.split_at_mut(block);
        let (mid, lo) = rest.split_at_mut(block);
        for (i, &v) in src.iter().enumerate() {
            hi[i] = round(v);
            mid[i] = round(v - hi[i]);
            lo[i] = round(v - hi[i] - mid[i]);
        }
    }
    out
}

/// How codes are held in an f16 tensor: code c at every `stride`-th entry as offset + c * step.
#[derive(Clone, Copy)]
struct F16Codes {
    offset: f64,
    step: f64,
    stride: i64,
}

/// An analogue ADC taken in the products' epilogue (`TorchMatrix::coded_products`): the bias
/// that rounds each conversion to an integer, the dtype of the product's operands and output,
/// the codes it holds (all below `codes_below`) and how `cycle_sum_f16` reads them.
struct CodedAdc {
    bias: f64,
    kind: Kind,
    codes_below: u32,
    read: F16Codes,
}

/// f32 products (`AnalogVariant::Epilogue`): a bias of 1.5 * 2^23 (f32's ulp is 1 from
/// 2^23 to 2^24) plus 0x3C00, so that the low 16 bits of bias + code, read as f16, are
/// 1 + code/1024 for codes below 1024 (ADCs of at most 10 bits); those halves at even entries.
const EPILOGUE: CodedAdc = CodedAdc {
    bias: (3u64 << 22) as f64 + 15360.0,
    kind: Kind::Float,
    codes_below: 1024,
    read: F16Codes {
        offset: 1.0,
        step: 1.0 / 1024.0,
        stride: 2,
    },
};

/// f16 products (`AnalogVariant::F16`): a bias of 1536 (f16's ulp is 1 from 1024 to
/// 2048), so that the stored f16 is 1536 + code for codes below 512 (at most 9 bits).
const HALF: CodedAdc = CodedAdc {
    bias: 1536.0,
    kind: Kind::Half,
    codes_below: 512,
    read: F16Codes {
        offset: 1536.0,
        step: 1.0,
        stride: 1,
    },
};

/// The cycles [b0, b1) of each group of `cycle_sum`, with its base weight |w_b0|: as many as
/// keep sum_b |w_b| / base * per_code below `limit`.
fn cycle_groups(cycle_weight: &[i64], per_code: f64, limit: f64) -> Vec<(usize, usize, i64)> {
    let mut groups = Vec::new();
    let mut b0 = 0;
    while b0 < cycle_weight.len() {
        let base = cycle_weight[b0].abs();
        let rel = |b: usize| (cycle_weight[b].abs() / base) as f64;
        let mut b1 = b0 + 1;
        let mut bound = rel(b0) * per_code;
        while b1 < cycle_weight.len() && bound + rel(b1) * per_code < limit {
            bound += rel(b1) * per_code;
            b1 += 1;
        }
        groups.push((b0, b1, base));
        b0 = b1;
    }
    groups
}

/// A group's weights relative to its base, [1, b1 - b0] on `dev`.
fn group_weights(
    cycle_weight: &[i64],
    (b0, b1, base): (usize, usize, i64),
    dev: Device,
) -> Result<Tensor, TchError> {
    let w: Vec<f32> = cycle_weight[b0..b1]
        .iter()
        .map(|&w| (w / base) as f32)
        .collect();
    Tensor::f_from_slice(&w)?
        .f_to_device(dev)?
        .f_reshape([1, (b1 - b0) as i64])
}

/// sum_b w_b codes[:, b, :] ([T, cycles, M] f32 integer codes <= vmax) as [T, 1, M]. The
/// cycles go in groups whose weights relative to the group's first, times vmax, sum below
/// 2^24: each group is one f32 product with its relative weights, every partial sum an
/// integer below 2^24 (exact in any order). Where one group of base weight 1 holds every cycle
/// (ISAAC) that product is the result, f32 with |sum| < 2^24; otherwise the groups are scaled
/// and added in i64.
fn cycle_sum(codes: &Tensor, cycle_weight: &[i64], vmax: f64) -> Result<Tensor, TchError> {
    let dev = codes.device();
    let groups = cycle_groups(cycle_weight, vmax, (1u64 << 24) as f64);
    if let [(0, b1, 1)] = groups[..] {
        let w = group_weights(cycle_weight, (0, b1, 1), dev)?;
        return w.f_matmul(codes);
    }
    let mut acc: Option<Tensor> = None;
    for (b0, b1, base) in groups {
        let w = group_weights(cycle_weight, (b0, b1, base), dev)?;
        let mut part = w
            .f_matmul(&codes.f_narrow(1, b0 as i64, (b1 - b0) as i64)?)?
            .f_to_kind(Kind::Int64)?;
        if base != 1 {
            part = part.f_mul_scalar(base)?;
        }
        acc = Some(match acc {
            None => part,
            Some(a) => a.f_add(&part)?,
        });
    }
    Ok(acc.expect("at least one cycle"))
}

/// `cycle_sum` of codes held in f16 (`F16Codes`: the epilogue's low halves, the f16 products'
/// codes; [T, cycles, M * stride]). Per group, one product of the f16 values with the relative
/// weights (f16 integers, powers of two) with an f32 output (tensor cores on CUDA; on the CPU
/// the f16 values widened to f32 first, exactly) gives offset W + step S, W the weights' sum
/// and S the group's sum of codes: every partial sum a multiple of step below 2^22 steps in
/// magnitude (the groups keep (offset/step + vmax) sum |w| below 2^22: two bits to spare for
/// accumulators that align and truncate), so exact; then S = (x - offset W) / step. Groups are
/// added in f32 where vmax sum_b |w_b| < 2^24 (exact: integers below 2^24 times powers of two),
/// else in i64.
fn cycle_sum_f16(
    codes: &Tensor,
    cycle_weight: &[i64],
    vmax: f64,
    enc: F16Codes,
) -> Result<Tensor, TchError> {
    let dev = codes.device();
    let width = codes.size()[2];
    let groups = cycle_groups(
        cycle_weight,
        enc.offset / enc.step + vmax,
        (1u64 << 22) as f64,
    );
    let total: f64 = cycle_weight.iter().map(|&w| w.unsigned_abs() as f64).sum();
    let in_f32 = total * vmax < (1u64 << 24) as f64
        && groups
            .iter()
            .all(|&(_, _, base)| base.unsigned_abs().is_power_of_two());
    let mut acc: Option<Tensor> = None;
    for (b0, b1, base) in groups {
        let w = group_weights(cycle_weight, (b0, b1, base), dev)?;
        let wsum = w.f_sum(Kind::Float)?.f_mul_scalar(enc.offset)?;
        let c = codes.f_narrow(1, b0 as i64, (b1 - b0) as i64)?;
        let x = if dev.is_cuda() {
            let t = c.size()[0];
            w.f_to_kind(Kind::Half)?
                .f_unsqueeze(0)?
                .f_expand([t, 1, (b1 - b0) as i64], false)?
                .f_contiguous()?
                .f_bmm_dtype(&c, Kind::Float)?
        } else {
            w.f_matmul(&c.f_to_kind(Kind::Float)?)?
        };
        // The codes' entries only (the epilogue's high halves dropped), less the offsets:
        // step S, exactly. These passes are over [T, 1, M], a cycle's share of the codes, so
        // they go in place and the groups' scaling rides on the accumulation.
        let mut x = match enc.stride {
            1 => x,
            st => x.f_slice(2, 0, width, st)?,
        };
        let _ = x.f_sub_(&wsum)?;
        let k = base as f64 / enc.step;
        acc = Some(match (acc, in_f32) {
            (None, true) => {
                if k != 1.0 {
                    let _ = x.f_mul_scalar_(k)?;
                }
                x
            }
            // a + x k: S base is an integer below 2^24, and so is the sum.
            (Some(mut a), true) => {
                let k = Tensor::from(k as f32).f_to_device(dev)?;
                let _ = a.f_addcmul_(&x, &k)?;
                a
            }
            (a, false) => {
                let part = x
                    .f_mul_scalar(1.0 / enc.step)?
                    .f_to_kind(Kind::Int64)?
                    .f_mul_scalar(base)?;
                match a {
                    None => part,
                    Some(a) => a.f_add(&part)?,
                }
            }
        });
    }
    Ok(acc.expect("at least one cycle"))
}

/// Read-noise draws use LibTorch's global generator: one seeded run at a time.
static RNG: Mutex<()> = Mutex::new(());

impl XbarMatrix for TorchMatrix {
    fn shape(&self) -> (usize, usize) {
        (self.k, self.n)
    }

    fn crossbars(&self) -> usize {
        self.row_tiles * self.col_tiles
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    fn run(
        &self,
        x: &[i64],
        batch: usize,
        mode: InputMode,
        read: Option<ReadNoise>,
    ) -> Result<(Vec<i64>, Counts), BackendError> {
        let cfg = &self.cfg;
        if read.is_some() && !self.analog {
            return kfail("read noise needs the analogue path: program conductances first".into());
        }
        let st = self.lock()?;
        let _g = tch::no_grad_guard();
        let (k, n) = (self.k, self.n);
        if let Some(w) = &st.linear {
            nestevo_kernels::inputs::check(cfg, x, batch, k, mode)?;
            let y = self.product(w, x, batch).map_err(engine_err)?;
            return Ok((y, self.counts(batch, 0)));
        }
        let prep = prepare(cfg, x, batch, k, mode)?;
        let dev = self.device;
        let chunk_of = |v0: usize, v1: usize| {
            Tensor::f_from_slice(&prep.applied[v0 * k..v1 * k])?
                .f_reshape([(v1 - v0) as i64, k as i64])?
                .f_to_device(dev)
        };
        let mut acc = vec![0i64; batch * n];
        let sat = (|| -> Result<u64, TchError> {
            let (ys, sat) = self.run_chunks(&st, batch, &chunk_of, &prep.cycle_weight, read)?;
            let mut v0 = 0;
            for y in ys {
                let bv = y.size()[0] as usize;
                y.f_to_device(Device::Cpu)?
                    .f_contiguous()?
                    .f_copy_data(&mut acc[v0 * n..(v0 + bv) * n], bv * n)?;
                v0 += bv;
            }
            Ok(sat.f_to_device(Device::Cpu)?.f_int64_value(&[0])? as u64)
        })()
        .map_err(engine_err)?;
        // The host tail, as the kernels': LSB scaling (rounded once), bias and offset removal.
        let lsb = match cfg.adc_mode {
            AdcMode::Exact => 1.0,
            AdcMode::Calibrated { full_scale } => full_scale / cfg.max_code() as f64,
        };
        let bias = 1i64 << (cfg.weight_bits - 1);
        for (v, row) in acc.chunks_mut(n).enumerate() {
            for (o, y) in row.iter_mut().enumerate() {
                let steps = if lsb == 1.0 {
                    *y
                } else {
                    (*y as f64 * lsb).round() as i64
                };
                *y = steps - bias * prep.applied_sum[v] - prep.offset * self.wsum[o];
            }
        }
        Ok((acc, self.counts(batch, sat)))
    }
}

#[cfg(test)]
mod tests {
    use super::split_parts;
    use tch::Kind;

    /// 100 000 f32 values of both signs (xorshift32 bit patterns), biased exponents
    /// e0..e0 + span.
    fn draws(seed: u32, e0: u32, span: u32) -> Vec<f32> {
        let mut x = seed;
        (0..100_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let e = e0 + (x >> 24) % span;
                f32::from_bits((x & 0x807f_ffff) | (e << 23))
            })
            .collect()
    }

    /// The three parts are bf16 values and sum to the value exactly, over f32's magnitudes.
    #[test]
    fn split_parts_are_bf16_and_exact() {
        // Exponents 2^-40..2^40.
        let mut v = draws(0x1234_5678, 87, 80);
        v.extend([0.0, 0.5, 1.0, 3.0, -0.125, f32::MIN_POSITIVE]);
        let parts = split_parts(&v, v.len(), Kind::BFloat16);
        let n = v.len();
        for (i, &g) in v.iter().enumerate() {
            let p = [parts[i], parts[n + i], parts[2 * n + i]];
            for q in p {
                assert_eq!(half::bf16::from_f32(q).to_f32(), q, "{g}: part {q}");
            }
            assert_eq!(
                p[0] as f64 + p[1] as f64 + p[2] as f64,
                g as f64,
                "{g}: {p:?}"
            );
        }
    }

    /// f16 parts over the analogue cells' range (0 to a few hundred LSBs, either sign):
    /// f16 values whose sum is the f32 value, or within 2^-25 of it where the last part is
    /// subnormal (values below 0.5).
    #[test]
    fn split_parts_f16_within_two_to_minus_25() {
        // Exponents 2^-30..2^9.
        let mut v = draws(0x9e37_79b9, 97, 40);
        v.extend([0.0, 0.5, 1.0, 3.0, 765.0, -0.125]);
        let parts = split_parts(&v, v.len(), Kind::Half);
        let n = v.len();
        let mut inexact = 0;
        for (i, &g) in v.iter().enumerate() {
            let p = [parts[i], parts[n + i], parts[2 * n + i]];
            for q in p {
                assert_eq!(half::f16::from_f32(q).to_f32(), q, "{g}: part {q}");
            }
            let err = (p[0] as f64 + p[1] as f64 + p[2] as f64 - g as f64).abs();
            assert!(err <= 2f64.powi(-25), "{g}: {p:?} off by {err}");
            // From 0.5 up the last part's lowest bit, f32's, is at least 2^-24: exact.
            assert!(err == 0.0 || g.abs() < 0.5, "{g}: {p:?} off by {err}");
            inexact += (err > 0.0) as usize;
        }
        assert!(inexact > 0, "the subnormal case was drawn");
    }
}
