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

use tch::{Kind, Tensor};

/// Which weight the noise is drawn on (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseSite {
    /// The trainer's conv/linear weight, the whole tensor's range.
    Raw,
    /// The weight the chip holds: batch-norm folded where the simulator folds it, each
    /// group's own range.
    Folded,
}

/// Eq. 18-20 with coefficient `mu`; `mu = 0` is the identity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightNoise {
    pub mu: f64,
    pub site: NoiseSite,
    /// With `Folded`: after the draw, max-abs quantisation to this many bits per group (as the
    /// simulator's `quant::WeightQuant`), straight through like the noise. None: no rounding.
    pub weight_bits: Option<u32>,
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
    /// `scale` [O] is the folded batch-norm's gamma / sqrt(running_var + eps) (None: nothing
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
        let mut noisy = g.shallow_clone();
        if self.mu > 0.0 {
            let lo = g.amin([1i64].as_slice(), true);
            let hi = g.amax([1i64].as_slice(), true);
            let sigma = (&hi - &lo) * self.mu;
            noisy = (&g + g.randn_like() * sigma).maximum(&lo).minimum(&hi);
        }
        if let Some(bits) = self.weight_bits {
            let q = ((1i64 << (bits - 1)) - 1) as f64;
            let m = noisy.abs().amax([1i64].as_slice(), true);
            let step = (&m / q).where_self(&m.gt(0.0), &m.ones_like());
            noisy = (&noisy / &step).round().clamp(-(q + 1.0), q) * step;
        }
        (noisy - g).view(wf.size().as_slice())
    }
}
