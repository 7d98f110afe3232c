//! The bit-faithful crossbar simulator: integer matrices on crossbars (`matrix`), float layers
//! through per-layer quantisation (`layer`, `conv`, `quant`), the digital layers a CNN needs
//! (`digital`), conductance noise (`noise`) and the event counts of a run (`stats`).
//! The arithmetic itself lives in the `nestevo-kernels` crate. The simulator knows nothing of
//! streams, metrics or training: running a trained detector on a stream is `couple`'s job.

pub mod backend;
pub mod conv;
pub mod digital;
mod error;
pub mod layer;
pub mod matrix;
pub mod network;
pub mod noise;
pub mod quant;
pub mod stats;

pub use backend::{
    AnalogVariant, Backend, BackendError, CellNoise, NetRun, NetworkEngine, XbarEngine, XbarMatrix,
};
pub use conv::{fold_batch_norm, CimConv2d, Conv2dShape};
pub use error::CimError;
pub use layer::CimLinear;
pub use matrix::{xbar_config, CimMatrix};
pub use network::{CimNetwork, NetPlan, Node, PlanLayer};
pub use noise::{NoiseMode, NoiseSpec};
pub use quant::{ActQuant, WeightQuant};
pub use stats::LayerStats;
