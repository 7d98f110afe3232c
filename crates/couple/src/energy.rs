//! Energy and time of a crossbar run, from the run's own counted events.
//!
//! Per crossbar layer: the measured crossbar-side counts (ADC conversions, DAC pulses, crossbar
//! reads, shift-and-adds) of the run, with the data movement and digital work the simulator does
//! not count (eDRAM bits, bus bits, router bits, tile shift-and-adds, digital element ops) taken
//! from the performance model's per-frame prediction times the frames run. Energy is
//! `ppa::EnergyBreakdown::of_events` of those events: the one definition of every per-event
//! energy (`ppa::EventEnergies`, from Table I). Two terms belong to no layer: chip-to-chip
//! traffic (`ppa` bits per frame x frames x pJ/bit) and static power x the mapped pipeline's time
//! for these frames (`ppa::timing`: latency + (frames - 1) x period). So
//! total = sum over layers + hyper_transport + static, exactly.

use super::CoupleError;
use nestevo_arch::ArchSpec;
use nestevo_cim::network::LayerRun;
use nestevo_cim::LayerStats;
use nestevo_model::ModelDesc;
use nestevo_ppa::mapping::layer_events;
use nestevo_ppa::timing::timing;
use nestevo_ppa::{map_network, EnergyBreakdown, EventEnergies, LayerEvents};
use serde::Serialize;

/// One crossbar layer of a run: its counts, ADC saturation rate and energy.
#[derive(Debug, Clone, Serialize)]
pub struct LayerCost {
    pub layer: String,
    pub stats: LayerStats,
    /// ADC saturations / ADC conversions of this layer.
    pub saturation_rate: f64,
    /// All frames, pJ by component (hyper_transport and static are 0 here: chip-level terms).
    pub energy_pj: EnergyBreakdown,
    pub energy_uj: f64,
}

/// Energy and modelled time of a whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RunCost {
    pub frames: u64,
    pub layers: Vec<LayerCost>,
    /// Sum over layers plus the chip links and static power, pJ by component.
    pub energy_pj: EnergyBreakdown,
    pub energy_total_uj: f64,
    pub energy_per_frame_uj: f64,
    /// The mapped pipeline for `frames` frames (performance model).
    pub chips: u64,
    pub tiles_used: u64,
    pub latency_us: f64,
    pub period_us: f64,
    pub frames_per_s: f64,
    pub pipeline_time_us: f64,
}

impl RunCost {
    /// Sum of the per-layer energies, pJ (the total less links and static).
    pub fn layers_pj(&self) -> f64 {
        self.layers.iter().map(|l| l.energy_pj.total()).sum()
    }
}

fn scale(ev: &LayerEvents, f: u64) -> LayerEvents {
    LayerEvents {
        matrix: ev.matrix,
        edram_read_bits: ev.edram_read_bits * f,
        edram_write_bits: ev.edram_write_bits * f,
        bus_bits: ev.bus_bits * f,
        router_bits: ev.router_bits * f,
        tile_shift_adds: ev.tile_shift_adds * f,
        digital_ops: ev.digital_ops * f,
    }
}

/// The energy and pipeline time of `frames` frames whose crossbar layers counted `runs`.
pub fn run_cost(
    spec: &ArchSpec,
    desc: &ModelDesc,
    runs: &[LayerRun],
    frames: u64,
) -> Result<RunCost, CoupleError> {
    let m = map_network(spec, desc)?;
    let t = timing(spec, &m, frames);
    let e = EventEnergies::from_arch(spec);
    let mut layers = Vec::with_capacity(runs.len());
    let mut sum = EnergyBreakdown::default();
    for r in runs {
        let l = m.layers.iter().find(|l| l.name == r.layer).ok_or_else(|| {
            CoupleError::Invalid(format!(
                "model {}: crossbar layer `{}` is not in the performance model's mapping",
                desc.name, r.layer
            ))
        })?;
        let mut ev = scale(&layer_events(spec, l), frames);
        let s = &r.stats;
        ev.matrix.crossbars = s.crossbars;
        ev.matrix.crossbar_reads = s.crossbar_reads;
        ev.matrix.dac_pulses = s.dac_pulses;
        ev.matrix.adc_conversions = s.adc_conversions;
        ev.matrix.shift_adds = s.shift_adds;
        ev.matrix.vectors = s.vectors;
        ev.matrix.macs = s.macs;
        let en = EnergyBreakdown::of_events(&e, &ev);
        sum = sum.add(&en);
        layers.push(LayerCost {
            layer: r.layer.clone(),
            stats: *s,
            saturation_rate: s.saturation_rate(),
            energy_pj: en,
            energy_uj: en.total() / 1e6,
        });
    }
    let mut total = sum;
    total.hyper_transport = (m.ht_bits_per_frame * frames) as f64 * e.ht_bit_pj;
    total.static_ = e.static_tile_mw * m.tiles_used as f64 * t.total_ns;
    let uj = total.total() / 1e6;
    Ok(RunCost {
        frames,
        layers,
        energy_pj: total,
        energy_total_uj: uj,
        energy_per_frame_uj: uj / frames.max(1) as f64,
        chips: m.chips,
        tiles_used: m.tiles_used,
        latency_us: t.latency_ns / 1e3,
        period_us: t.period_ns / 1e3,
        frames_per_s: t.frames_per_s,
        pipeline_time_us: t.total_ns / 1e3,
    })
}

/// The crossbar-side part of an energy (ADC, sample-and-hold, DAC, crossbar reads, IMA
/// shift-and-add), pJ.
pub fn crossbar_side_pj(b: &EnergyBreakdown) -> f64 {
    b.adc + b.sample_hold + b.dac + b.crossbar + b.ima_shift_add
}

/// The cost as Markdown tables: energy by component, the pipeline, and per layer.
pub fn render_cost(c: &RunCost) -> String {
    let tot = c.energy_pj.total();
    let mut s = format!(
        "energy of {} frame(s): {:.3} uJ ({:.3} uJ per frame); pipeline on {} chip(s): latency {:.2} us, period {:.2} us ({:.1} frames/s), all frames {:.2} us\n\n",
        c.frames, c.energy_total_uj, c.energy_per_frame_uj, c.chips, c.latency_us, c.period_us,
        c.frames_per_s, c.pipeline_time_us
    );
    s += "| component | energy | share |\n|---|---|---|\n";
    for (name, v) in c.energy_pj.items() {
        s += &format!(
            "| {name} | {:.4} uJ | {:.1} % |\n",
            v / 1e6,
            100.0 * v / tot.max(1e-30)
        );
    }
    s += "\n| layer | ADC conversions | saturation rate | crossbar-side energy | layer energy |\n|---|---|---|---|---|\n";
    for l in &c.layers {
        s += &format!(
            "| {} | {} | {:.4} % | {:.4} uJ | {:.4} uJ |\n",
            l.layer,
            l.stats.adc_conversions,
            100.0 * l.saturation_rate,
            crossbar_side_pj(&l.energy_pj) / 1e6,
            l.energy_uj
        );
    }
    s
}
