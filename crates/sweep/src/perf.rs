//! The performance figures of one (design, model) pair, from the `ppa` model.

use nestevo_arch::ArchSpec;
use nestevo_model::{ModelDesc, ModelError};
use nestevo_ppa::network_report;

/// What a sweep row records of a valid design point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    pub chips: u64,
    pub crossbars: u64,
    /// Steady state, static power over one period included, uJ.
    pub energy_per_frame_uj: f64,
    /// One frame alone, us.
    pub latency_us: f64,
    /// Between frames in steady state, us.
    pub period_us: f64,
    pub area_mm2: f64,
    pub average_power_w: f64,
}

pub fn metrics(a: &ArchSpec, m: &ModelDesc) -> Result<Metrics, ModelError> {
    let r = network_report(a, m, 1)?;
    Ok(Metrics {
        chips: r.chips,
        crossbars: r.crossbars_used,
        energy_per_frame_uj: r.energy_per_frame_uj,
        latency_us: r.timing.latency_ns / 1e3,
        period_us: r.timing.period_ns / 1e3,
        area_mm2: r.area_mm2,
        average_power_w: r.average_power_w,
    })
}
