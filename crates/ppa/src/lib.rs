//! The accelerator performance model: a network's mapping onto crossbar chips, its timing,
//! event counts, energy and area, from closed-form counts (no per-cell simulation, so a whole
//! network maps and reports in milliseconds). Formulas and assumptions: docs/performance-model.md.
//!
//! Inside, every arrow points down this list (each file imports only files above it):
//! components, events; mapping; timing, energy; peak; report.

pub mod components;
pub mod energy;
pub mod events;
pub mod mapping;
pub mod peak;
pub mod report;
pub mod timing;

pub use energy::{EnergyBreakdown, EventEnergies};
pub use events::{matrix_events, LayerEvents, MatrixEvents};
pub use mapping::{digital_cost, map_network, DigitalLayer, LayerMap, Mapping};
pub use peak::{peak, Peak};
pub use report::{network_report, render_network, render_peak, DigitalRow, NetworkReport};
pub use timing::Timing;
