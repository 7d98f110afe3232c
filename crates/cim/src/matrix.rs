//! An integer K x N matrix on an accelerator's crossbars: programming (with noise) and runs.

use super::backend::{Backend, CellNoise, XbarMatrix};
use super::error::Result;
use super::noise::{perturb_i64, NoiseMode, NoiseSpec};
use super::stats::LayerStats;
use ndarray::{Array2, ArrayView2};
use nestevo_arch::{AdcRange, ArchSpec};
use nestevo_core::invalid;
use nestevo_kernels::{AdcMode, InputMode, Programmed, ReadNoise, XbarConfig};
use std::borrow::Cow;

/// The arithmetic knobs of `spec`. The calibrated ADC's full scale is the largest sum a column
/// can deliver (`ArchSpec::max_column_sum`, which counts the unit column when flipping).
pub fn xbar_config(spec: &ArchSpec) -> XbarConfig {
    XbarConfig {
        rows: spec.crossbar.rows as usize,
        cols: spec.crossbar.cols as usize,
        bits_per_cell: spec.crossbar.bits_per_cell,
        weight_bits: spec.data.weight_bits,
        input_bits: spec.data.input_bits,
        dac_bits: spec.dac.bits,
        adc_bits: spec.adc.bits,
        adc_mode: match spec.adc.range {
            AdcRange::Exact => AdcMode::Exact,
            AdcRange::Calibrated => AdcMode::Calibrated {
                full_scale: spec.max_column_sum() as f64,
            },
        },
        flip: spec.encoding.flip,
        g_min: spec.crossbar.g_min_us,
        g_max: spec.crossbar.g_max_us,
    }
}

/// A programmed matrix and the noise it was programmed with.
pub struct CimMatrix {
    prog: Box<dyn XbarMatrix>,
    noise: NoiseSpec,
    /// Per-read noise of the flag and the read laws together.
    read_mu: f64,
}

impl CimMatrix {
    /// Programs `w` (K x N signed integers in the weight range). Weight noise perturbs the
    /// integers before programming; cell noise perturbs the conductances.
    pub fn program(spec: &ArchSpec, w: ArrayView2<i64>, noise: &NoiseSpec) -> Result<Self> {
        Self::program_on(&Backend::cpu(), spec, w, noise)
    }

    /// `program` on the engine `backend`.
    pub fn program_on(
        backend: &Backend,
        spec: &ArchSpec,
        w: ArrayView2<i64>,
        noise: &NoiseSpec,
    ) -> Result<Self> {
        noise.check()?;
        let (k, n) = w.dim();
        // The weights where they lie (standard layout, no weight noise), else one copy.
        let mut flat = match w.as_slice() {
            Some(s) if noise.mode != NoiseMode::Weight => Cow::Borrowed(s),
            _ => Cow::Owned(w.iter().copied().collect::<Vec<i64>>()),
        };
        if noise.mode == NoiseMode::Weight {
            perturb_i64(flat.to_mut(), noise.mu, noise.seed);
        }
        // Cell noise is the programming law, first, so that its draws are those of the stream
        // the kernels always used; the description's device laws follow in their order.
        let mut cells = CellNoise::programming(
            if noise.mode == NoiseMode::Cell {
                noise.mu
            } else {
                0.0
            },
            noise.seed,
        );
        let device = spec.device_laws(&spec.name)?;
        cells.laws.extend(device.iter().cloned());
        // Read noise of the flag and of any read law add in variance.
        let read_var: f64 = device.iter().map(|l| l.read_mu().powi(2)).sum();
        let read_mu = (read_var + noise.read_mu.powi(2)).sqrt();
        let analog = noise.mode == NoiseMode::Cell || read_mu > 0.0 || !device.is_empty();
        let prog =
            backend
                .engine()
                .program(&xbar_config(spec), &flat, k, n, analog.then_some(cells))?;
        Ok(CimMatrix {
            prog,
            noise: *noise,
            read_mu,
        })
    }

    /// (K, N).
    pub fn shape(&self) -> (usize, usize) {
        self.prog.shape()
    }

    pub fn crossbars(&self) -> usize {
        self.prog.crossbars()
    }

    /// The programmed crossbars (levels, conductances), for inspection; `None` when another
    /// engine than the CPU kernels holds them.
    pub fn programmed(&self) -> Option<&Programmed> {
        self.prog.kernel()
    }

    /// The engine's matrix (an engine's whole-network path runs it on its own data).
    pub fn engine_matrix(&self) -> &dyn XbarMatrix {
        &*self.prog
    }

    /// The per-read noise of a run, if any (of the noise flag and the device's read laws).
    pub fn read_noise(&self) -> Option<ReadNoise> {
        (self.read_mu > 0.0).then_some(ReadNoise {
            mu: self.read_mu,
            // A stream apart from the programming noise of the same seed.
            seed: self.noise.seed ^ 0x005E_ED0F_4EAD,
        })
    }

    /// The integer products of a batch (B x K) after bias removal, before any scaling.
    pub fn mvm(&self, x: ArrayView2<i64>, signed: bool) -> Result<(Array2<i64>, LayerStats)> {
        let (b, k) = x.dim();
        let (kk, n) = self.shape();
        if k != kk {
            invalid!("inputs have {k} columns but the weights have K = {kk} rows");
        }
        // A view onto x where it is contiguous (the usual case), else one copy.
        let xs = x.as_standard_layout();
        let flat = xs.as_slice().expect("standard layout");
        let mode = if signed {
            InputMode::Signed
        } else {
            InputMode::Unsigned
        };
        let (y, c) = self.prog.run(flat, b, mode, self.read_noise())?;
        Ok((Array2::from_shape_vec((b, n), y)?, c))
    }
}
