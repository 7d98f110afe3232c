//! Device laws: what the conductance of a programmed cell really is. One interface
//! ([`CellLaw`]), one file per law, a registry that selects them by name with validated
//! parameters ([`build`], [`LawSpec`]). The CPU kernels apply them while programming
//! conductances, so the tensor engine (which takes its conductances from the kernels) sees the
//! same draws; the weight-level form of Eq. 18-20 ([`weight`]) serves the simulator and the
//! trainer alike.
//!
//! A law sees one crossbar at a time ([`Cells`]: conductances in uS, the stored levels, the
//! conductance range) and draws only from the stream it is handed, so programming is the same
//! whatever the thread count, and adding a law to a list never changes the draws of the laws
//! before it.

mod cells;
mod error;
mod params;
mod registry;

pub mod drift;
pub mod programming;
pub mod read;
pub mod stuck;
pub mod table;
pub mod weight;

pub use cells::{program_crossbar, CellLaw, Cells};
pub use error::DeviceError;
pub use params::{LawSpec, Params, Value};
pub use registry::{build, build_all, LawInfo, LAWS};
