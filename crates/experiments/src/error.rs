//! The experiments' error: bad input (a flag or file the caller can fix) or a fault, and the
//! errors of the crates below, each keeping its own kind.

use nestevo_core::error::{ErrorKind, IoError, Kinded};

#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    Fault(String),
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Model(#[from] nestevo_model::ModelError),
    #[error(transparent)]
    Sched(#[from] nestevo_sched::SchedError),
    #[error(transparent)]
    Evolve(#[from] nestevo_evolve::EvolveError),
    #[cfg(feature = "torch")]
    #[error(transparent)]
    Train(#[from] nestevo_train::TrainError),
}

impl Kinded for ExperimentError {
    fn kind(&self) -> ErrorKind {
        match self {
            ExperimentError::BadInput(_) => ErrorKind::BadInput,
            ExperimentError::Fault(_) => ErrorKind::Fault,
            ExperimentError::Io(e) => e.kind(),
            ExperimentError::Model(e) => e.kind(),
            ExperimentError::Sched(e) => e.kind(),
            ExperimentError::Evolve(e) => e.kind(),
            #[cfg(feature = "torch")]
            ExperimentError::Train(e) => e.kind(),
        }
    }
}

pub type Result<T, E = ExperimentError> = std::result::Result<T, E>;
