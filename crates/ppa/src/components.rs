//! The chip's inventory: how many of each Table I component one chip holds, with their
//! per-unit power and area from the arch file. Peak power, area and static power all read it,
//! so a changed count (ADCs per IMA, rows, tiles) moves every total consistently.

use nestevo_arch::ArchSpec;
use serde::Serialize;

/// Level of the hierarchy a component belongs to, for breakdowns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ima,
    Tile,
    Chip,
}

#[derive(Debug, Clone, Serialize)]
pub struct Component {
    pub name: &'static str,
    pub level: Level,
    /// Units per chip (fractional for the router, which 4 tiles share).
    pub count_per_chip: f64,
    pub unit_power_mw: f64,
    pub unit_area_mm2: f64,
}

impl Component {
    pub fn power_mw(&self) -> f64 {
        self.count_per_chip * self.unit_power_mw
    }
    pub fn area_mm2(&self) -> f64 {
        self.count_per_chip * self.unit_area_mm2
    }
}

/// Every component of one chip.
pub fn components(a: &ArchSpec) -> Vec<Component> {
    let tiles = a.chip.tiles as f64;
    let imas = tiles * a.tile.imas as f64;
    let xbars = imas * a.ima.crossbars as f64;
    let (p, s) = (&a.power_mw, &a.area_mm2);
    let c = |name, level, count: f64, pw: f64, ar: f64| Component {
        name,
        level,
        count_per_chip: count,
        unit_power_mw: pw,
        unit_area_mm2: ar,
    };
    vec![
        c("adc", Level::Ima, imas * a.ima.adcs as f64, p.adc, s.adc),
        c(
            "dac",
            Level::Ima,
            xbars * a.crossbar.rows as f64,
            p.dac,
            s.dac,
        ),
        c(
            "sample_hold",
            Level::Ima,
            xbars * a.crossbar.cols as f64,
            p.sample_hold,
            s.sample_hold,
        ),
        c("crossbar", Level::Ima, xbars, p.crossbar, s.crossbar),
        c(
            "ima_shift_add",
            Level::Ima,
            imas * a.ima.shift_add_units as f64,
            p.ima_shift_add,
            s.ima_shift_add,
        ),
        c(
            "ima_input_register",
            Level::Ima,
            imas,
            p.ima_input_register,
            s.ima_input_register,
        ),
        c(
            "ima_output_register",
            Level::Ima,
            imas,
            p.ima_output_register,
            s.ima_output_register,
        ),
        c("edram", Level::Tile, tiles, p.edram, s.edram),
        c("edram_bus", Level::Tile, tiles, p.edram_bus, s.edram_bus),
        c(
            "router",
            Level::Tile,
            tiles / a.tile.tiles_per_router as f64,
            p.router,
            s.router,
        ),
        c(
            "sigmoid",
            Level::Tile,
            tiles * a.tile.sigmoid_units as f64,
            p.sigmoid,
            s.sigmoid,
        ),
        c(
            "tile_shift_add",
            Level::Tile,
            tiles * a.tile.shift_add_units as f64,
            p.tile_shift_add,
            s.tile_shift_add,
        ),
        c(
            "maxpool",
            Level::Tile,
            tiles * a.tile.maxpool_units as f64,
            p.maxpool,
            s.maxpool,
        ),
        c(
            "tile_output_register",
            Level::Tile,
            tiles,
            p.tile_output_register,
            s.tile_output_register,
        ),
        c(
            "hyper_transport",
            Level::Chip,
            1.0,
            p.hyper_transport,
            s.hyper_transport,
        ),
    ]
}

/// Power of one tile (its IMAs, its own units and its share of the router), mW.
pub fn tile_power_mw(a: &ArchSpec) -> f64 {
    level_sum(a, |c| c.power_mw()) / a.chip.tiles as f64
}

/// Area of one tile, mm^2.
pub fn tile_area_mm2(a: &ArchSpec) -> f64 {
    level_sum(a, |c| c.area_mm2()) / a.chip.tiles as f64
}

fn level_sum(a: &ArchSpec, f: impl Fn(&Component) -> f64) -> f64 {
    components(a)
        .iter()
        .filter(|c| c.level != Level::Chip)
        .map(f)
        .sum()
}

/// Power of the components that are not event-driven (registers, sigmoid units), per tile, mW:
/// they are charged as static power for every powered tile.
pub fn static_tile_power_mw(a: &ArchSpec) -> f64 {
    components(a)
        .iter()
        .filter(|c| STATIC.contains(&c.name))
        .map(|c| c.power_mw())
        .sum::<f64>()
        / a.chip.tiles as f64
}

/// Components charged as static power rather than per event.
pub const STATIC: &[&str] = &[
    "ima_input_register",
    "ima_output_register",
    "sigmoid",
    "tile_output_register",
];
