//! A network's report: mapping, timing, events, energy and area, as a table or JSON.

use super::components::components;
use super::energy::{EnergyBreakdown, EventEnergies};
use super::events::LayerEvents;
use super::mapping::{layer_events, map_network, Mapping};
use super::peak::{peak, Peak};
use super::timing::{timing, Timing};
use nestevo_arch::ArchSpec;
use nestevo_model::{ModelDesc, ModelError};
use serde::Serialize;
use std::fmt::Write;

#[derive(Debug, Clone, Serialize)]
pub struct LayerRow {
    pub name: String,
    pub op: &'static str,
    pub k: u64,
    pub n: u64,
    pub groups: u64,
    pub vectors: u64,
    pub crossbars_per_copy: u64,
    pub copies: u64,
    pub imas: u64,
    pub first_chip: u64,
    pub last_chip: u64,
    pub cell_utilisation: f64,
    pub time_per_frame_us: f64,
    pub events: LayerEvents,
    pub energy_uj: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct AreaItem {
    pub component: &'static str,
    pub count: f64,
    pub area_mm2: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct NetworkReport {
    pub arch: String,
    pub model: String,
    pub peak: Peak,
    pub event_energies: EventEnergies,
    pub chips: u64,
    pub tiles_used: u64,
    pub imas_used: u64,
    pub imas_available: u64,
    pub crossbars_used: u64,
    pub crossbars_available: u64,
    pub crossbar_utilisation: f64,
    pub slots_per_frame: u64,
    pub ht_bits_per_frame: u64,
    pub timing: Timing,
    pub layers: Vec<LayerRow>,
    pub total_events: LayerEvents,
    pub gops_achieved: f64,
    /// Per frame in steady state (static power over one period), pJ by component.
    pub energy_per_frame_pj: EnergyBreakdown,
    pub energy_per_frame_uj: f64,
    /// All frames: dynamic per frame * frames + static power * total time, uJ.
    pub energy_total_uj: f64,
    /// Energy per frame / period, W.
    pub average_power_w: f64,
    pub area_mm2: f64,
    pub area_breakdown: Vec<AreaItem>,
    /// The digital work per frame by op kind, most energy first.
    pub digital_by_op: Vec<DigitalRow>,
}

/// The digital layers of one op kind: their operations and dynamic energy per frame.
#[derive(Debug, Clone, Serialize)]
pub struct DigitalRow {
    pub op: &'static str,
    pub layers: usize,
    pub ops: u64,
    pub energy_uj: f64,
    /// Whether they take time of their own (see `mapping::digital_cost`).
    pub timed: bool,
}

/// Maps `model` on `arch` and runs `frames` frames through the model.
pub fn network_report(
    a: &ArchSpec,
    model: &ModelDesc,
    frames: u64,
) -> Result<NetworkReport, ModelError> {
    let m = map_network(a, model)?;
    Ok(from_mapping(a, model, &m, frames))
}

fn from_mapping(a: &ArchSpec, model: &ModelDesc, m: &Mapping, frames: u64) -> NetworkReport {
    let t = timing(a, m, frames);
    let e = EventEnergies::from_arch(a);
    let mut rows = Vec::with_capacity(m.layers.len());
    let mut total = LayerEvents::default();
    let mut dynamic = EnergyBreakdown::default();
    for (l, ns) in m.layers.iter().zip(&t.layer_ns) {
        let ev = layer_events(a, l);
        let en = EnergyBreakdown::of_events(&e, &ev);
        total = add_events(&total, &ev);
        dynamic = dynamic.add(&en);
        rows.push(LayerRow {
            name: l.name.clone(),
            op: l.op,
            k: l.k,
            n: l.n,
            groups: l.groups,
            vectors: l.vectors,
            crossbars_per_copy: l.crossbars_per_copy,
            copies: l.copies,
            imas: l.imas,
            first_chip: l.first_chip,
            last_chip: l.last_chip,
            cell_utilisation: l.cell_utilisation,
            time_per_frame_us: ns / 1e3,
            events: ev,
            energy_uj: en.total() / 1e6,
        });
    }
    dynamic.hyper_transport = m.ht_bits_per_frame as f64 * e.ht_bit_pj;
    let static_mw = e.static_tile_mw * m.tiles_used as f64;
    let mut per_frame = dynamic;
    per_frame.static_ = static_mw * t.period_ns;
    let dyn_pj = dynamic.total();
    let area_breakdown: Vec<AreaItem> = components(a)
        .iter()
        .map(|c| AreaItem {
            component: c.name,
            count: c.count_per_chip * m.chips as f64,
            area_mm2: c.area_mm2() * m.chips as f64,
        })
        .collect();
    let p = peak(a);
    let mut digital_by_op: Vec<DigitalRow> = Vec::new();
    for d in &m.digital {
        match digital_by_op.iter_mut().find(|r| r.op == d.op) {
            Some(r) => {
                r.layers += 1;
                r.ops += d.ops;
            }
            None => digital_by_op.push(DigitalRow {
                op: d.op,
                layers: 1,
                ops: d.ops,
                energy_uj: 0.0,
                timed: d.timed,
            }),
        }
    }
    for r in &mut digital_by_op {
        r.energy_uj = r.ops as f64 * e.digital_op_pj / 1e6;
    }
    digital_by_op.sort_by_key(|r| std::cmp::Reverse(r.ops));
    NetworkReport {
        digital_by_op,
        arch: a.name.clone(),
        model: model.name.clone(),
        chips: m.chips,
        tiles_used: m.tiles_used,
        imas_used: m.imas_used,
        imas_available: m.imas_available,
        crossbars_used: m.crossbars_used,
        crossbars_available: m.crossbars_available,
        crossbar_utilisation: m.crossbar_utilisation(),
        slots_per_frame: m.slots_per_frame,
        ht_bits_per_frame: m.ht_bits_per_frame,
        gops_achieved: 2.0 * total.matrix.macs as f64 / t.period_ns,
        energy_per_frame_uj: per_frame.total() / 1e6,
        energy_total_uj: (dyn_pj * t.frames as f64 + static_mw * t.total_ns) / 1e6,
        average_power_w: per_frame.total() / t.period_ns / 1e3,
        area_mm2: p.area_mm2 * m.chips as f64,
        energy_per_frame_pj: per_frame,
        area_breakdown,
        layers: rows,
        total_events: total,
        timing: t,
        event_energies: e,
        peak: p,
    }
}

fn add_events(a: &LayerEvents, b: &LayerEvents) -> LayerEvents {
    let mut m = a.matrix.add(&b.matrix);
    m.vectors = a.matrix.vectors + b.matrix.vectors;
    LayerEvents {
        matrix: m,
        edram_read_bits: a.edram_read_bits + b.edram_read_bits,
        edram_write_bits: a.edram_write_bits + b.edram_write_bits,
        bus_bits: a.bus_bits + b.bus_bits,
        router_bits: a.router_bits + b.router_bits,
        tile_shift_adds: a.tile_shift_adds + b.tile_shift_adds,
        digital_ops: a.digital_ops + b.digital_ops,
    }
}

/// The chip's peak figures as a table.
pub fn render_peak(a: &ArchSpec, p: &Peak) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}: peak figures", a.name);
    let _ = writeln!(s, "  crossbars                  {:>12}", p.crossbars);
    let _ = writeln!(
        s,
        "  MACs per crossbar/vector   {:>12}",
        p.macs_per_crossbar
    );
    let _ = writeln!(
        s,
        "  time per input vector      {:>12.1} ns",
        super::timing::vector_ns(a)
    );
    let _ = writeln!(s, "  peak throughput            {:>12.2} TOPS", p.peak_tops);
    let _ = writeln!(s, "  power                      {:>12.2} W", p.power_w);
    let _ = writeln!(s, "  area                       {:>12.2} mm^2", p.area_mm2);
    let _ = writeln!(
        s,
        "  energy efficiency          {:>12.1} GOPS/W",
        p.gops_per_w
    );
    let _ = writeln!(
        s,
        "  computational density      {:>12.2} GOPS/s/mm^2",
        p.gops_per_mm2
    );
    let _ = writeln!(
        s,
        "\n  {:<22} {:>10} {:>12} {:>12}",
        "component", "count", "power mW", "area mm^2"
    );
    for c in components(a) {
        let _ = writeln!(
            s,
            "  {:<22} {:>10} {:>12.2} {:>12.4}",
            c.name,
            c.count_per_chip,
            c.power_mw(),
            c.area_mm2()
        );
    }
    s
}

/// The per-layer table and totals.
pub fn render_network(r: &NetworkReport) -> String {
    let mut s = String::new();
    let t = &r.timing;
    let _ = writeln!(s, "{} on {}: {} frame(s)", r.model, r.arch, t.frames);
    let _ = writeln!(
        s,
        "{:<16} {:>6} {:>13} {:>7} {:>8} {:>6} {:>6} {:>5} {:>6} {:>10} {:>14} {:>10}",
        "layer",
        "op",
        "K x N",
        "vectors",
        "xb/copy",
        "copies",
        "IMAs",
        "chip",
        "util%",
        "us/frame",
        "ADC conv",
        "energy uJ"
    );
    for (i, l) in r.layers.iter().enumerate() {
        let kn = if l.groups > 1 {
            format!("{}x{}x{}g", l.k, l.n, l.groups)
        } else {
            format!("{}x{}", l.k, l.n)
        };
        let chip = if l.first_chip == l.last_chip {
            format!("{}", l.first_chip)
        } else {
            format!("{}-{}", l.first_chip, l.last_chip)
        };
        let mark = if i == t.bottleneck {
            " <- slowest layer"
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "{:<16} {:>6} {:>13} {:>7} {:>8} {:>6} {:>6} {:>5} {:>6.1} {:>10.1} {:>14} {:>10.2}{}",
            l.name,
            l.op,
            kn,
            l.vectors,
            l.crossbars_per_copy,
            l.copies,
            l.imas,
            chip,
            100.0 * l.cell_utilisation,
            l.time_per_frame_us,
            l.events.matrix.adc_conversions,
            l.energy_uj,
            mark
        );
    }
    let e = &r.total_events;
    let _ = writeln!(s, "\nmapping");
    let _ = writeln!(s, "  chips                      {:>14}", r.chips);
    let _ = writeln!(s, "  tiles used                 {:>14}", r.tiles_used);
    let _ = writeln!(
        s,
        "  IMAs used / available      {:>14}",
        format!("{} / {}", r.imas_used, r.imas_available)
    );
    let _ = writeln!(
        s,
        "  crossbars used / available {:>14}",
        format!("{} / {}", r.crossbars_used, r.crossbars_available)
    );
    let _ = writeln!(
        s,
        "  crossbar utilisation       {:>14.1} %",
        100.0 * r.crossbar_utilisation
    );
    let _ = writeln!(s, "  vector slots per frame (T) {:>14}", r.slots_per_frame);
    let _ = writeln!(
        s,
        "  chip-to-chip traffic       {:>14.3} Mbit/frame",
        r.ht_bits_per_frame as f64 / 1e6
    );
    let _ = writeln!(s, "timing");
    let _ = writeln!(s, "  crossbar cycle             {:>14.1} ns", t.cycle_ns);
    let stage = if t.links_bound {
        "chip links"
    } else {
        r.layers[t.bottleneck].name.as_str()
    };
    let _ = writeln!(s, "  bottleneck                 {:>14}", stage);
    let _ = writeln!(
        s,
        "  period (1 / throughput)    {:>14.2} us",
        t.period_ns / 1e3
    );
    let _ = writeln!(
        s,
        "  throughput                 {:>14.1} frames/s",
        t.frames_per_s
    );
    let _ = writeln!(
        s,
        "  single-frame latency       {:>14.2} us",
        t.latency_ns / 1e3
    );
    let _ = writeln!(
        s,
        "  time for {} frame(s)  {:>14.3} ms",
        t.frames,
        t.total_ns / 1e6
    );
    let _ = writeln!(
        s,
        "  achieved                   {:>14.1} GOPS",
        r.gops_achieved
    );
    let _ = writeln!(s, "events per frame");
    for (name, v) in [
        ("MACs", e.matrix.macs),
        ("crossbar reads", e.matrix.crossbar_reads),
        ("DAC pulses", e.matrix.dac_pulses),
        ("ADC conversions", e.matrix.adc_conversions),
        ("shift-and-adds", e.matrix.shift_adds),
        ("tile shift-and-adds", e.tile_shift_adds),
        ("eDRAM bits read", e.edram_read_bits),
        ("eDRAM bits written", e.edram_write_bits),
        ("bus bits", e.bus_bits),
        ("router bits", e.router_bits),
        ("digital ops", e.digital_ops),
    ] {
        let _ = writeln!(s, "  {:<26} {:>14}", name, v);
    }
    if r.digital_by_op.iter().any(|d| d.timed) {
        let _ = writeln!(
            s,
            "digital work per frame by op (tile digital units; `timed` ops set their stage's \
             time)"
        );
        for d in &r.digital_by_op {
            let _ = writeln!(
                s,
                "  {:<12} {:>4} layer(s) {:>16} ops {:>12.3} uJ{}",
                d.op,
                d.layers,
                d.ops,
                d.energy_uj,
                if d.timed { "  timed" } else { "" }
            );
        }
        let slowest = r.timing.bottleneck;
        let (dn, ln) = (r.timing.digital_ns[slowest], r.timing.layer_ns[slowest]);
        if dn >= ln && dn > 0.0 {
            let _ = writeln!(
                s,
                "  the slowest stage (`{}`) is bound by its digital work: {:.2} us",
                r.layers[slowest].name,
                dn / 1e3
            );
        }
    }
    let _ = writeln!(s, "energy per frame (steady state)");
    let total = r.energy_per_frame_pj.total();
    for (name, v) in r.energy_per_frame_pj.items() {
        let _ = writeln!(
            s,
            "  {:<26} {:>14.3} uJ {:>6.1} %",
            name,
            v / 1e6,
            100.0 * v / total
        );
    }
    let _ = writeln!(s, "  {:<26} {:>14.3} uJ", "total", r.energy_per_frame_uj);
    let _ = writeln!(
        s,
        "  {:<26} {:>14.3} mJ",
        format!("total for {} frame(s)", t.frames),
        r.energy_total_uj / 1e3
    );
    let _ = writeln!(s, "  {:<26} {:>14.2} W", "average power", r.average_power_w);
    let _ = writeln!(s, "area ({} chip(s))", r.chips);
    for c in &r.area_breakdown {
        let _ = writeln!(
            s,
            "  {:<26} {:>14.4} mm^2 {:>6.1} %",
            c.component,
            c.area_mm2,
            100.0 * c.area_mm2 / r.area_mm2
        );
    }
    let _ = writeln!(s, "  {:<26} {:>14.2} mm^2", "total", r.area_mm2);
    s
}
