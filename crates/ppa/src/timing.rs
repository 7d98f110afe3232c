//! Pipeline timing of a mapped network.

use super::mapping::Mapping;
use nestevo_arch::ArchSpec;
use serde::Serialize;

/// One crossbar cycle, ns: the read time, unless the ADCs cannot convert every data column in
/// it (cols / (ADCs per crossbar * rate)). The unit column's conversion is not counted here,
/// as ISAAC's own figures do not count it (with it ISAAC's cycle would be 100.8 ns).
pub fn cycle_ns(a: &ArchSpec) -> f64 {
    let adcs_per_xbar = a.ima.adcs as f64 / a.ima.crossbars as f64;
    let adc_ns = a.crossbar.cols as f64 / (adcs_per_xbar * a.adc.sample_rate_gs_per_s);
    a.timing.crossbar_read_ns.max(adc_ns)
}

/// Time one layer copy takes per input vector (ISAAC: 16 cycles = 1.6 us), ns.
pub fn vector_ns(a: &ArchSpec) -> f64 {
    a.cycles_per_input() as f64 * cycle_ns(a)
}

#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    pub cycle_ns: f64,
    pub vector_ns: f64,
    /// Per layer: the longer of its crossbar time, ceil(vectors / copies) * vector_ns, and
    /// its tiles' timed digital work (`digital_ns`), ns per frame.
    pub layer_ns: Vec<f64>,
    /// Per layer: timed digital operations / (its tiles * digital units per tile * clock), ns.
    pub digital_ns: Vec<f64>,
    /// Index (into the mapping's layers) of the slowest layer.
    pub bottleneck: usize,
    /// Chip-to-chip transfer time per frame over all HyperTransport links, ns.
    pub ht_ns: f64,
    /// The chip links, not a layer, set the period.
    pub links_bound: bool,
    /// Steady-state time between frames: the slowest stage (a layer or the chip links), ns.
    pub period_ns: f64,
    pub frames_per_s: f64,
    /// One frame alone: the slowest layer's time, plus one IMA pipeline (22 cycles) per layer
    /// for the pipeline's fill, plus the chip links, ns.
    pub latency_ns: f64,
    pub frames: u64,
    /// latency + (frames - 1) * period, ns.
    pub total_ns: f64,
}

pub fn timing(a: &ArchSpec, m: &Mapping, frames: u64) -> Timing {
    let cyc = cycle_ns(a);
    let vec_ns = vector_ns(a);
    let units = a.tile.maxpool_units.max(1) as f64 * a.timing.digital_clock_ghz;
    let digital_ns: Vec<f64> = m
        .layers
        .iter()
        .map(|l| {
            let tiles = l.imas.div_ceil(a.tile.imas as u64).max(1) as f64;
            l.timed_digital_ops as f64 / (tiles * units)
        })
        .collect();
    let layer_ns: Vec<f64> = m
        .layers
        .iter()
        .zip(&digital_ns)
        .map(|(l, d)| (l.vectors.div_ceil(l.copies) as f64 * vec_ns).max(*d))
        .collect();
    let (bottleneck, slowest) = layer_ns
        .iter()
        .copied()
        .enumerate()
        .fold((0, 0.0), |b, (i, t)| if t > b.1 { (i, t) } else { b });
    let link_bits_per_ns = a.chip.ht_links as f64 * a.chip.ht_link_gb_per_s * 8.0;
    let ht_ns = m.ht_bits_per_frame as f64 / link_bits_per_ns;
    let period_ns = slowest.max(ht_ns);
    let fill_ns = m.layers.len() as f64 * a.timing.ima_pipeline_cycles as f64 * cyc;
    let latency_ns = slowest + fill_ns + ht_ns;
    let frames = frames.max(1);
    Timing {
        cycle_ns: cyc,
        vector_ns: vec_ns,
        layer_ns,
        digital_ns,
        bottleneck,
        ht_ns,
        links_bound: ht_ns > slowest,
        period_ns,
        frames_per_s: 1e9 / period_ns,
        latency_ns,
        frames,
        total_ns: latency_ns + (frames - 1) as f64 * period_ns,
    }
}
