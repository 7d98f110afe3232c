//! Conductance noise (SPEC 3.3, paper Eq. 18-20): sigma = mu * (max - min), a Normal draw around
//! each value, clipped back into [min, max]. Drawn once at programming, from a seed.

use super::error::Result;
use nestevo_core::error::Invalid;
use nestevo_core::invalid;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoiseMode {
    /// Noiseless: the exact bit-plane path.
    None,
    /// Eq. 18-20 on the layer's weights before quantisation and programming (the paper's model).
    Weight,
    /// Eq. 18-20 on every cell's conductance within [g_min, g_max] (the physical model).
    Cell,
}

impl NoiseMode {
    pub const ALL: [NoiseMode; 3] = [NoiseMode::None, NoiseMode::Weight, NoiseMode::Cell];

    pub fn name(self) -> &'static str {
        match self {
            NoiseMode::None => "none",
            NoiseMode::Weight => "weight",
            NoiseMode::Cell => "cell",
        }
    }
}

impl std::str::FromStr for NoiseMode {
    type Err = Invalid;
    fn from_str(s: &str) -> std::result::Result<Self, Invalid> {
        NoiseMode::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| Invalid::new("", "noise", s, "allowed: none, weight, cell"))
    }
}

impl std::fmt::Display for NoiseMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which noise, how strong, from which seed. `read_mu` > 0 adds fresh per-read cell noise of
/// sigma = read_mu * (g_max - g_min) on every read (analogue path).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NoiseSpec {
    pub mode: NoiseMode,
    pub mu: f64,
    pub read_mu: f64,
    pub seed: u64,
}

impl Default for NoiseSpec {
    fn default() -> Self {
        NoiseSpec {
            mode: NoiseMode::None,
            mu: 0.0,
            read_mu: 0.0,
            seed: 0,
        }
    }
}

/// The one bound on a noise coefficient, for the simulator and the trainer alike: sigma is a
/// fraction of the value range (Eq. 19), so 0 <= mu <= 1.
pub fn check_mu(name: &str, mu: f64) -> Result<(), Invalid> {
    if mu.is_finite() && (0.0..=1.0).contains(&mu) {
        Ok(())
    } else {
        Err(Invalid::new(
            "",
            format!("noise {name}"),
            mu,
            "allowed 0 <= mu <= 1 (a fraction of the value range)",
        ))
    }
}

impl NoiseSpec {
    pub fn check(&self) -> Result<()> {
        check_mu("mu", self.mu)?;
        check_mu("read mu", self.read_mu)?;
        Ok(())
    }

    /// The noise flags of a command as a validated spec; a coefficient without a noise mode is
    /// refused rather than silently ignored.
    pub fn from_flags(mode: NoiseMode, mu: f64, read_mu: f64, seed: u64) -> Result<Self> {
        if mode == NoiseMode::None && mu != 0.0 {
            invalid!("--mu {mu} given with --noise none: choose --noise weight or --noise cell");
        }
        let noise = NoiseSpec {
            mode,
            mu,
            read_mu,
            seed,
        };
        noise.check()?;
        Ok(noise)
    }
}

/// Eq. 18-20 at weight level, in place: the one definition in `nestevo_device::weight`.
pub use nestevo_device::weight::{perturb_f32, perturb_i64};
