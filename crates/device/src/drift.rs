//! Conductance drift over time (the power law of phase-change memory, as in aihwkit's PCM
//! model): at `time_s` seconds after the reference time t0 (programming completes and is
//! verified at t0) a cell holds g(t) = g(t0) * ((t + t0) / t0)^(-nu), with nu drawn per cell from
//! N(nu, nu_sd^2), clipped at 0 (no cell grows). `time_s = 0` is the programmed state. The
//! defaults (t0 20 s, nu 0.049, nu_sd 0.008) are aihwkit's PCM values for the upper conductance
//! states, which carry most of a column's current.
//!
//! Global drift compensation (`compensate = true`): each crossbar is read once with every input
//! on, right after programming and again at t; the ratio of the two offset-removed totals,
//! sum (g(t0) - g_min) / sum (g(t) - g_min), scales every later read. It restores the average
//! decay, not the spread of nu between cells.

use super::{CellLaw, Cells, DeviceError, LawInfo};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::sync::Arc;

pub const INFO: LawInfo = LawInfo {
    name: "drift",
    summary:
        "g(t) = g(t0) ((t + t0)/t0)^-nu per cell, nu ~ N(nu, nu_sd^2); optional global compensation",
    params: "time_s (>= 0, required), t0_s (> 0, default 20), nu (0 to 1, default 0.049), \
             nu_sd (0 to 1, default 0.008), compensate (default false)",
    build: |p| {
        Ok(Arc::new(Drift::new(
            p.num("time_s", None, 0.0, f64::INFINITY)?,
            p.num("t0_s", Some(20.0), f64::MIN_POSITIVE, f64::INFINITY)?,
            p.num("nu", Some(0.049), 0.0, 1.0)?,
            p.num("nu_sd", Some(0.008), 0.0, 1.0)?,
            p.flag("compensate", false)?,
        )?))
    },
};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drift {
    pub time_s: f64,
    pub t0_s: f64,
    pub nu: f64,
    pub nu_sd: f64,
    pub compensate: bool,
}

impl Drift {
    pub fn new(
        time_s: f64,
        t0_s: f64,
        nu: f64,
        nu_sd: f64,
        compensate: bool,
    ) -> Result<Self, DeviceError> {
        if !(time_s.is_finite() && time_s >= 0.0) {
            return Err(DeviceError::new("time_s", time_s, "allowed: >= 0 seconds"));
        }
        if !(t0_s.is_finite() && t0_s > 0.0) {
            return Err(DeviceError::new("t0_s", t0_s, "allowed: > 0 seconds"));
        }
        for (k, v) in [("nu", nu), ("nu_sd", nu_sd)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(DeviceError::new(k, v, "allowed: >= 0"));
            }
        }
        Ok(Drift {
            time_s,
            t0_s,
            nu,
            nu_sd,
            compensate,
        })
    }

    /// ln((t + t0) / t0): the exponent's multiplier.
    pub fn log_ratio(&self) -> f64 {
        ((self.time_s + self.t0_s) / self.t0_s).ln()
    }
}

impl CellLaw for Drift {
    fn name(&self) -> &'static str {
        INFO.name
    }

    fn program(&self, cells: &mut Cells<'_>, rng: &mut ChaCha8Rng) {
        let lr = self.log_ratio();
        if lr == 0.0 {
            return;
        }
        let gmin = cells.g_min;
        let before: f64 = cells.g.iter().map(|g| g - gmin).sum();
        let normal = Normal::new(self.nu, self.nu_sd).expect("finite spread");
        for g in cells.g.iter_mut() {
            let nu = normal.sample(rng).max(0.0);
            *g *= (-nu * lr).exp();
        }
        if self.compensate {
            let after: f64 = cells.g.iter().map(|g| g - gmin).sum();
            if after > 0.0 {
                let alpha = before / after;
                for g in cells.g.iter_mut() {
                    *g = gmin + alpha * (*g - gmin);
                }
            }
        }
    }
}
