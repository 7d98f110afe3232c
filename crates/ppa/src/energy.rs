//! Energy from counted events times per-event energies derived from the Table I powers, plus
//! static power times time for the components that are not event-driven.

use super::components::static_tile_power_mw;
use super::events::LayerEvents;
use nestevo_arch::ArchSpec;
use serde::Serialize;

/// Energy of one event of each kind, pJ. A Table I power is the unit's power when busy at its
/// full rate, so energy per event = power / events per second.
#[derive(Debug, Clone, Serialize)]
pub struct EventEnergies {
    /// ADC power / sample rate (ISAAC: 2 mW / 1.28 GS/s = 1.5625 pJ).
    pub adc_conversion_pj: f64,
    /// DAC power * one read (ISAAC: 3.906 uW * 100 ns = 0.39 pJ).
    pub dac_pulse_pj: f64,
    /// Sample-and-hold power * one read, charged once per ADC conversion.
    pub sample_hold_pj: f64,
    /// Crossbar power * one read (ISAAC: 0.3 mW * 100 ns = 30 pJ).
    pub crossbar_read_pj: f64,
    /// IMA shift-and-add power / digital clock, per operation.
    pub ima_shift_add_pj: f64,
    /// Tile shift-and-add power / digital clock, per merged partial sum.
    pub tile_shift_add_pj: f64,
    /// eDRAM power / (edram_bus_bits * digital clock), per bit read or written.
    pub edram_bit_pj: f64,
    /// eDRAM-IMA bus power / (wires * digital clock), per bit.
    pub bus_bit_pj: f64,
    /// Router power / (ports * flit bits * digital clock), per bit.
    pub router_bit_pj: f64,
    /// HyperTransport power / (links * link bandwidth), per bit.
    pub ht_bit_pj: f64,
    /// Max-pool unit power / digital clock, per element operation (pool, ReLU, add).
    pub digital_op_pj: f64,
    /// Registers and sigmoid units of one powered tile, charged as static power, mW.
    pub static_tile_mw: f64,
}

impl EventEnergies {
    pub fn from_arch(a: &ArchSpec) -> Self {
        let p = &a.power_mw;
        let read_ns = a.timing.crossbar_read_ns;
        let clk_ghz = a.timing.digital_clock_ghz;
        // mW / (G events/s) = pJ per event; mW * ns = pJ.
        EventEnergies {
            adc_conversion_pj: p.adc / a.adc.sample_rate_gs_per_s,
            dac_pulse_pj: p.dac * read_ns,
            sample_hold_pj: p.sample_hold * read_ns,
            crossbar_read_pj: p.crossbar * read_ns,
            ima_shift_add_pj: p.ima_shift_add / clk_ghz,
            tile_shift_add_pj: p.tile_shift_add / clk_ghz,
            edram_bit_pj: p.edram / (a.tile.edram_bus_bits as f64 * clk_ghz),
            bus_bit_pj: p.edram_bus / (a.tile.ima_bus_wires as f64 * clk_ghz),
            router_bit_pj: p.router
                / (a.tile.router_ports as f64 * a.tile.router_flit_bits as f64 * clk_ghz),
            ht_bit_pj: p.hyper_transport / (a.chip.ht_links as f64 * a.chip.ht_link_gb_per_s * 8.0),
            digital_op_pj: p.maxpool / clk_ghz,
            static_tile_mw: static_tile_power_mw(a),
        }
    }
}

/// Energy by component, pJ.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct EnergyBreakdown {
    pub adc: f64,
    pub dac: f64,
    pub sample_hold: f64,
    pub crossbar: f64,
    pub ima_shift_add: f64,
    pub tile_shift_add: f64,
    pub edram: f64,
    pub edram_bus: f64,
    pub router: f64,
    pub hyper_transport: f64,
    pub digital: f64,
    /// Static power * time.
    #[serde(rename = "static")]
    pub static_: f64,
}

impl EnergyBreakdown {
    /// Dynamic energy of one layer's events.
    pub fn of_events(e: &EventEnergies, ev: &LayerEvents) -> Self {
        let m = &ev.matrix;
        EnergyBreakdown {
            adc: m.adc_conversions as f64 * e.adc_conversion_pj,
            dac: m.dac_pulses as f64 * e.dac_pulse_pj,
            sample_hold: m.adc_conversions as f64 * e.sample_hold_pj,
            crossbar: m.crossbar_reads as f64 * e.crossbar_read_pj,
            ima_shift_add: m.shift_adds as f64 * e.ima_shift_add_pj,
            tile_shift_add: ev.tile_shift_adds as f64 * e.tile_shift_add_pj,
            edram: (ev.edram_read_bits + ev.edram_write_bits) as f64 * e.edram_bit_pj,
            edram_bus: ev.bus_bits as f64 * e.bus_bit_pj,
            router: ev.router_bits as f64 * e.router_bit_pj,
            hyper_transport: 0.0,
            digital: ev.digital_ops as f64 * e.digital_op_pj,
            static_: 0.0,
        }
    }

    pub fn items(&self) -> [(&'static str, f64); 12] {
        [
            ("adc", self.adc),
            ("dac", self.dac),
            ("sample_hold", self.sample_hold),
            ("crossbar", self.crossbar),
            ("ima_shift_add", self.ima_shift_add),
            ("tile_shift_add", self.tile_shift_add),
            ("edram", self.edram),
            ("edram_bus", self.edram_bus),
            ("router", self.router),
            ("hyper_transport", self.hyper_transport),
            ("digital", self.digital),
            ("static", self.static_),
        ]
    }

    pub fn total(&self) -> f64 {
        self.items().iter().map(|(_, v)| v).sum()
    }

    pub fn add(&self, o: &Self) -> Self {
        let mut r = *self;
        r.adc += o.adc;
        r.dac += o.dac;
        r.sample_hold += o.sample_hold;
        r.crossbar += o.crossbar;
        r.ima_shift_add += o.ima_shift_add;
        r.tile_shift_add += o.tile_shift_add;
        r.edram += o.edram;
        r.edram_bus += o.edram_bus;
        r.router += o.router;
        r.hyper_transport += o.hyper_transport;
        r.digital += o.digital;
        r.static_ += o.static_;
        r
    }
}
