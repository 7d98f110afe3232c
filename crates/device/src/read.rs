//! Read noise: a fresh Normal on every cell's conductance at every read, sigma = mu * (g_max -
//! g_min). Nothing changes at programming; the analogue path draws each column's total at each
//! read, N(0, sigma^2 * sum_r v_r^2) over the applied input levels v_r.

use super::{CellLaw, Cells, LawInfo};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

pub const INFO: LawInfo = LawInfo {
    name: "read",
    summary: "fresh N(0, (mu (g_max - g_min))^2) on every cell at every read",
    params: "mu (0 to 1, required)",
    build: |p| {
        Ok(Arc::new(Read {
            mu: p.num("mu", None, 0.0, 1.0)?,
        }))
    },
};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Read {
    pub mu: f64,
}

impl CellLaw for Read {
    fn name(&self) -> &'static str {
        INFO.name
    }
    fn program(&self, _cells: &mut Cells<'_>, _rng: &mut ChaCha8Rng) {}
    fn read_mu(&self) -> f64 {
        self.mu
    }
}
