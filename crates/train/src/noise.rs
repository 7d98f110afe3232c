//! Conductance noise of SPEC 3.3 (paper Eq. 18-20) as a weight transform that any layer applies
//! to its weight in the forward pass: the noise is redrawn on every call (so each forward sees a
//! fresh device state) and the gradient goes straight through to the clean weight, which is
//! what noise-injected training needs to learn weights robust to the perturbation.
//!
//! Two places to draw it (`NoiseSite`):
//! - `Raw`: on the conv/linear weight as the trainer holds it, the tensor's own range (the
//!   paper's formulation; the co-evolution's intermediates use it).
//! - `Folded`: on the weight the chip holds. The simulator (`cim::network`) folds a batch-norm
//!   into the conv it reads when that conv feeds only it, w_f = w * gamma / sqrt(var + eps) per
//!   output channel, draws Eq. 18-20 with the range of each group's folded weights and then
//!   quantises max-abs. Drawing on the raw weight instead is a different perturbation at the
//!   same mu (folding rescales each output channel differently), so the trainer draws delta_f
//!   on w_f with w_f's range and adds its effect after the batch-norm, bn(conv(x, w)) +
//!   conv(x, delta_f): in eval mode exactly the folded conv with the folded perturbation
//!   (bn_eval(conv(x, w)) is the folded conv). Mapping the change back onto the raw weight
//!   (delta_f / scale_c) is the same in exact arithmetic but not in practice: a channel with
//!   a tiny gamma gets a huge raw change, which in training pollutes the batch statistics
//!   (running variances overflowed in a fine-tune) and in eval drowns the clean product in
//!   rounding. In training mode the batch-norm normalises with the batch's statistics and the
//!   noise term uses the running ones (what the chip holds).
//! - `Cell`: programming noise on the chip's cells, where the simulator's `--noise cell` (the
//!   device law `programming`) draws it. The folded weight is quantised as the chip quantises
//!   it (max-abs, `weight_bits` per group, or per output channel with `column_scales`), stored
//!   offset-binary u = q + 2^(bits-1) in slices of `bits_per_cell`; every slice's level l gets
//!   l' = clamp(l + mu * cell_max * N(0, 1), 0, cell_max) (sigma = mu (g_max - g_min) in
//!   conductance is mu * cell_max in levels), and the weight the cells hold is
//!   sum_s l'_s 2^(s bits_per_cell) - 2^(bits-1). The most significant slice dominates (sigma
//!   about 0.75 mu of the group's range at 16 bits, 2-bit cells), and cells at level 0 or
//!   cell_max can only move one way, which biases small weights. Column
//!   flipping stores cell_max - l instead, which gives the same distribution (the noise is
//!   symmetric), so the law ignores it. What it leaves out: the ADC rounding each column's sum
//!   of up to 128 such cells, which absorbs small errors (at mu 0.01 the chip loses nothing).

use tch::{Kind, Tensor};

/// Which weight the noise is drawn on (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseSite {
    /// The trainer's conv/linear weight, the whole tensor's range.
    Raw,
    /// The weight the chip holds: batch-norm folded where the simulator folds it, each
    /// group's own range.
    Folded,
    /// The folded weight's cells: quantised, sliced, each cell drawn as the chip's programming
    /// law draws it.
    Cell,
}

/// Eq. 18-20 with coefficient `mu`; `mu = 0` is the identity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightNoise {
    pub mu: f64,
    pub site: NoiseSite,
    /// With `Folded`: after the draw, max-abs quantisation to this many bits per group (as the
    /// simulator's `quant::WeightQuant`), straight through like the noise. None: no rounding.
    /// With `Cell`: the chip's weight bits (always set).
    pub weight_bits: Option<u32>,
    /// With `Cell`: bits per cell (ISAAC: 2).
    pub cell_bits: u32,
    /// The quantisation scale per output channel (the accelerator's `data.weight_scale =
    /// "column"`) instead of per group.
    pub column_scales: bool,
}

impl WeightNoise {
    /// The raw-weight law. Refuses a coefficient outside the one bound of the project
    /// (`cim::noise::check_mu`).
    pub fn new(mu: f64) -> Result<Self, super::TrainError> {
        nestevo_cim::noise::check_mu("mu", mu)?;
        Ok(Self {
            mu,
            site: NoiseSite::Raw,
            weight_bits: None,
            cell_bits: 2,
            column_scales: false,
        })
    }

    /// The law on the cells of the weights the chip holds: `weight_bits` (2..=32) stored in
    /// cells of `cell_bits` (1..=8, at most `weight_bits`), as the accelerator's
    /// `data.weight_bits` and `crossbar.bits_per_cell`.
    pub fn cell(mu: f64, weight_bits: u32, cell_bits: u32) -> Result<Self, super::TrainError> {
        nestevo_core::check!(
            (2..=32).contains(&weight_bits),
            "weight bits {weight_bits}: allowed 2 to 32"
        );
        nestevo_core::check!(
            (1..=8).contains(&cell_bits) && cell_bits <= weight_bits,
            "bits per cell {cell_bits}: allowed 1 to 8, at most the weight bits ({weight_bits})"
        );
        Ok(Self {
            site: NoiseSite::Cell,
            weight_bits: Some(weight_bits),
            cell_bits,
            ..Self::new(mu)?
        })
    }

    /// The law on the weights the chip holds (batch-norm folded, per-group ranges).
    pub fn folded(mu: f64) -> Result<Self, super::TrainError> {
        Ok(Self {
            site: NoiseSite::Folded,
            ..Self::new(mu)?
        })
    }

    /// Adds the chip's max-abs weight quantisation (bits as the accelerator's
    /// `data.weight_bits`, 2..=32) to the folded law.
    pub fn with_weight_bits(self, bits: u32) -> Result<Self, super::TrainError> {
        nestevo_core::check!(
            (2..=32).contains(&bits),
            "weight bits {bits}: allowed 2 to 32"
        );
        nestevo_core::check!(
            self.site == NoiseSite::Folded,
            "weight quantisation needs the folded noise site (the chip's weights)"
        );
        Ok(Self {
            weight_bits: Some(bits),
            ..self
        })
    }

    /// Quantises with one scale per output channel, as the accelerator's `data.weight_scale =
    /// "column"` programs the crossbars (the noise of `Folded` keeps each group's range: the
    /// chip draws Eq. 18-20 on the float weights before it quantises).
    pub fn with_column_scales(self, on: bool) -> Self {
        Self {
            column_scales: on,
            ..self
        }
    }

    /// sigma = mu * (max W - min W) (Eq. 19), W' = clamp(W + sigma * N(0, 1), min W, max W)
    /// (Eq. 18, 20), returned as `W + (W' - W).detach()` so that dW'/dW = 1. The whole
    /// tensor's range, whatever the site (a layer that folds nothing and has one group draws
    /// the same under both).
    pub fn apply(&self, w: &Tensor) -> Tensor {
        if self.mu == 0.0 {
            return w.shallow_clone();
        }
        let clean = w.detach();
        let (lo, hi) = (clean.min(), clean.max());
        let sigma = (&hi - &lo) * self.mu;
        let noisy = (&clean + clean.randn_like() * sigma).clamp_tensor(Some(&lo), Some(&hi));
        w + (noisy - clean).detach()
    }

    /// The law on the weight the chip holds, as the change of that weight (detached):
    /// `scale` `[O]` is the folded batch-norm's gamma / sqrt(running_var + eps) (None: nothing
    /// folded, the chip holds `w`), `groups` the conv's groups (each group its own range and
    /// quantisation scale, as the simulator programs one matrix per group). The caller adds
    /// its effect where the chip has it: after the batch-norm for a folded conv
    /// (`Detector`), on the weight otherwise.
    pub fn chip_delta(&self, w: &Tensor, scale: Option<&Tensor>, groups: i64) -> Tensor {
        let clean = w.detach();
        if self.mu == 0.0 && self.weight_bits.is_none() {
            return clean.zeros_like();
        }
        let wf = match scale {
            Some(s) => {
                let shape = clean.size();
                let b: Vec<i64> = std::iter::once(shape[0])
                    .chain(std::iter::repeat_n(1, shape.len() - 1))
                    .collect();
                &clean * s.detach().to_kind(Kind::Float).view(b.as_slice())
            }
            None => clean,
        };
        self.folded_delta(&wf, groups)
    }

    /// Eq. 18-20 (and the optional quantisation) on folded weights `wf` [O, ...], each of
    /// `groups` groups of output channels with its own range: the change W' - wf.
    pub fn folded_delta(&self, wf: &Tensor, groups: i64) -> Tensor {
        let g = wf.view([groups, -1]);
        // The rows that share one quantisation scale: each group, or each output channel.
        let rows = if self.column_scales {
            wf.size()[0]
        } else {
            groups
        };
        if self.site == NoiseSite::Cell {
            let c = wf.view([rows, -1]);
            return (self.cell_draw(&c) - &c).view(wf.size().as_slice());
        }
        let mut noisy = g.shallow_clone();
        if self.mu > 0.0 {
            let lo = g.amin([1i64].as_slice(), true);
            let hi = g.amax([1i64].as_slice(), true);
            let sigma = (&hi - &lo) * self.mu;
            noisy = (&g + g.randn_like() * sigma).maximum(&lo).minimum(&hi);
        }
        if let Some(bits) = self.weight_bits {
            let q = ((1i64 << (bits - 1)) - 1) as f64;
            let n = noisy.view([rows, -1]);
            let m = n.abs().amax([1i64].as_slice(), true);
            let step = (&m / q).where_self(&m.gt(0.0), &m.ones_like());
            noisy = ((&n / &step).round().clamp(-(q + 1.0), q) * step).view([groups, -1]);
        }
        (noisy - g).view(wf.size().as_slice())
    }

    /// The `Cell` site on groups `g` [G, n]: the weights the cells hold after the draw
    /// (see the module documentation). f64 inside: 32-bit weights do not fit f32's mantissa.
    fn cell_draw(&self, g: &Tensor) -> Tensor {
        let bits = self.weight_bits.expect("Cell sets weight_bits");
        let g64 = g.to_kind(Kind::Double);
        let q = ((1i64 << (bits - 1)) - 1) as f64;
        let half = (1i64 << (bits - 1)) as f64;
        let m = g64.abs().amax([1i64].as_slice(), true);
        let step = (&m / q).where_self(&m.gt(0.0), &m.ones_like());
        let mut rest = (&g64 / &step).round().clamp(-(q + 1.0), q) + half;
        let base = (1u64 << self.cell_bits) as f64;
        let cmax = base - 1.0;
        let sigma = self.mu * cmax;
        let mut held = rest.zeros_like();
        let mut place = 1.0;
        for _ in 0..bits.div_ceil(self.cell_bits) {
            let level = rest.fmod(base);
            rest = (&rest - &level) / base;
            let drawn = if sigma > 0.0 {
                (&level + level.randn_like() * sigma).clamp(0.0, cmax)
            } else {
                level
            };
            held += drawn * place;
            place *= base;
        }
        ((held - half) * step).to_kind(g.kind())
    }
}
