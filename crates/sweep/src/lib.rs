//! Design sweeps: every point of a grid of accelerator knobs (`--set` overrides of one arch
//! description), each validated by `arch` (an invalid combination is a row with its reason),
//! each valid one mapped by `ppa` for every model: energy per frame, latency, period, area.
//! Rows go to a CSV in point order, appended a chunk at a time, so a killed sweep resumes
//! after its last finished point; the Pareto front (lowest energy, latency and area, and
//! bit-faithful error where measured) goes to a CSV and a PNG.
//!
//! Sharding: shard I of N takes the points i with i mod N == I; `merge` interleaves the
//! shards' rows back into point order, byte for byte the CSV of the unsharded run, so a
//! cluster's job array (one task per shard) needs no scheduler from this project.
//!
//! Speed: a PPA-only point is one `apply_overrides` (validation) and one `ppa::network_report`
//! per model, about 0.1 ms of CPU for ResNet-18 (docs/architects.md); points run in parallel
//! (rayon), a chunk between two appends to the CSV. No mapping is cached between points: at
//! this cost the CSV writing is already a visible share.

mod accuracy;
mod csv;
mod grid;
mod pareto;
pub mod perf;
mod plot;
mod run;

pub use accuracy::{Accuracy, Score};
pub use csv::Row;
pub use grid::{Axis, Grid, Shard};
pub use pareto::pareto_front;
pub use run::{merge, run_sweep, Meta, SweepConfig, SweepOutcome};

/// A bad sweep request or a sweep file that cannot be resumed or merged.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("--grid {grid}: {message}")]
    Grid { grid: String, message: String },
    #[error("--shard {shard}: {message}")]
    Shard { shard: String, message: String },
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error(transparent)]
    Arch(#[from] nestevo_arch::ArchError),
    #[error(transparent)]
    Model(#[from] nestevo_model::ModelError),
}

impl nestevo_core::error::Kinded for SweepError {
    /// Grids, shards and files that do not fit are the caller's to correct.
    fn kind(&self) -> nestevo_core::error::ErrorKind {
        match self {
            SweepError::Arch(e) => e.kind(),
            SweepError::Model(e) => e.kind(),
            _ => nestevo_core::error::ErrorKind::BadInput,
        }
    }
}

impl SweepError {
    pub(crate) fn file(file: &std::path::Path, message: impl Into<String>) -> Self {
        SweepError::File {
            file: file.display().to_string(),
            message: message.into(),
        }
    }
}
