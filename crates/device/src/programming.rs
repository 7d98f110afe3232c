//! Programming noise at cell level (paper Eq. 18-20): every cell's conductance gets a Normal
//! draw of sigma = mu * (g_max - g_min), once, clipped back into [g_min, g_max].
//!
//! Cells are drawn row by row, the unit column last in each row: the order the kernels always
//! used, so `--noise cell --mu m` and the law `programming:mu=m` give the same conductances.

use super::{CellLaw, Cells, DeviceError, LawInfo};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::sync::Arc;

pub const INFO: LawInfo = LawInfo {
    name: "programming",
    summary:
        "Eq. 18-20 on every cell: N(0, (mu (g_max - g_min))^2) once, clipped to [g_min, g_max]",
    params: "mu (0 to 1, required)",
    build: |p| Ok(Arc::new(Programming::new(p.num("mu", None, 0.0, 1.0)?)?)),
};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Programming {
    pub mu: f64,
}

impl Programming {
    pub fn new(mu: f64) -> Result<Self, DeviceError> {
        if !(mu.is_finite() && (0.0..=1.0).contains(&mu)) {
            return Err(DeviceError::new("mu", mu, "allowed: 0 <= mu <= 1"));
        }
        Ok(Programming { mu })
    }
}

impl CellLaw for Programming {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn program(&self, cells: &mut Cells<'_>, rng: &mut ChaCha8Rng) {
        if self.mu == 0.0 {
            return;
        }
        let (lo, hi) = (cells.g_min, cells.g_max);
        let normal = Normal::new(0.0, self.mu * (hi - lo)).expect("finite sigma");
        for g in cells.g.iter_mut() {
            *g = (*g + normal.sample(rng)).clamp(lo, hi);
        }
    }
}
