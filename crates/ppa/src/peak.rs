//! The chip's peak figures: every crossbar busy, Table I power.

use super::components::components;
use super::timing::vector_ns;
use nestevo_arch::ArchSpec;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Peak {
    /// 16-bit MACs of one crossbar per input vector: rows * outputs per crossbar.
    pub macs_per_crossbar: u64,
    pub crossbars: u64,
    /// 2 ops per MAC, over all crossbars, TOPS.
    pub peak_tops: f64,
    pub power_w: f64,
    pub area_mm2: f64,
    pub gops_per_w: f64,
    pub gops_per_mm2: f64,
}

pub fn peak(a: &ArchSpec) -> Peak {
    let macs = a.crossbar.rows as u64 * a.outputs_per_crossbar() as u64;
    let crossbars = a.crossbars_per_chip();
    // MACs per ns * 2 = G ops/s.
    let gops = 2.0 * (macs * crossbars) as f64 / vector_ns(a);
    let comps = components(a);
    let power_w = comps.iter().map(|c| c.power_mw()).sum::<f64>() / 1e3;
    let area_mm2 = comps.iter().map(|c| c.area_mm2()).sum::<f64>();
    Peak {
        macs_per_crossbar: macs,
        crossbars,
        peak_tops: gops / 1e3,
        power_w,
        area_mm2,
        gops_per_w: gops / power_w,
        gops_per_mm2: gops / area_mm2,
    }
}
