//! Conductance noise of SPEC 3.3 (paper Eq. 18-20) as a weight transform that any layer applies
//! to its weight in the forward pass: the noise is redrawn on every call (so each forward sees a
//! fresh device state) and the gradient goes straight through to the clean weight, which is
//! what noise-injected training needs to learn weights robust to the perturbation.

use tch::Tensor;

/// Eq. 18-20 with coefficient `mu`; `mu = 0` is the identity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightNoise {
    pub mu: f64,
}

impl WeightNoise {
    /// Refuses a coefficient outside the one bound of the project (`cim::noise::check_mu`).
    pub fn new(mu: f64) -> Result<Self, super::TrainError> {
        nestevo_cim::noise::check_mu("mu", mu)?;
        Ok(Self { mu })
    }

    /// sigma = mu * (max W - min W) (Eq. 19), W' = clamp(W + sigma * N(0, 1), min W, max W)
    /// (Eq. 18, 20), returned as `W + (W' - W).detach()` so that dW'/dW = 1.
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
}
