//! Coupling: trained networks run on the simulated chip. A checkpoint (the trainer's
//! safetensors and its model description) is programmed onto an accelerator's crossbars
//! (`cim::CimNetwork`), fed with a stream's frames, and judged as the trainer's models are
//! judged (decoded boxes, mAP on the held-out frame rule) next to its own float reference.
//!
//! The simulator (`kernels`, `arch`, `cim`, `ppa`, `model`) knows nothing of streams, metrics or
//! training; this module is where they meet. The coming GPU-versus-CIM benchmark, the noise
//! sweeps and the evolution loop's labeller on the simulated chip live here too; `label` is the
//! labelling interface (`Labeller`) that the LibTorch global model and the chip both implement.

pub mod checkpoint;
pub mod cim_label;
pub mod counts;
pub mod detector;
pub mod energy;
mod error;
pub mod frames;
pub mod generic;
pub mod label;
pub mod sweep_score;

pub use checkpoint::load_checkpoint;
pub use cim_label::{ChipSetup, CimLabeller, WriteCost};
pub use detector::{render, run_detector, HeadDiff, RunConfig, RunReport, FRAMES_PER_FORWARD};
pub use energy::{run_cost, RunCost};
pub use error::CoupleError;
pub use frames::batch_from_frames;
