//! The scheduler's errors: bad input (a jobs file or predictor file with a wrong field, an
//! unknown policy, a zero budget, a job that alone exceeds the budget) and faults (I/O, a
//! plot that cannot be drawn).

use nestevo_core::error::{ErrorKind, Invalid, IoError, Kinded};
use nestevo_model::ModelError;

#[derive(Debug, thiserror::Error)]
pub enum SchedError {
    /// A bad value: file, field, value and what is allowed.
    #[error(transparent)]
    Field(#[from] Invalid),
    /// Other bad input, in words.
    #[error("{0}")]
    Invalid(String),
    /// A model description a job names does not parse or does not fit.
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Io(#[from] IoError),
    /// A failure the caller could not have prevented.
    #[error("{0}")]
    Fault(String),
    #[error("{context}: {inner}")]
    Context {
        context: String,
        inner: Box<SchedError>,
    },
}

impl Kinded for SchedError {
    fn kind(&self) -> ErrorKind {
        match self {
            SchedError::Field(_) | SchedError::Invalid(_) | SchedError::Model(_) => {
                ErrorKind::BadInput
            }
            SchedError::Io(e) => e.kind(),
            SchedError::Fault(_) => ErrorKind::Fault,
            SchedError::Context { inner, .. } => inner.kind(),
        }
    }
}

nestevo_core::module_error!(SchedError);

pub type Result<T, E = SchedError> = std::result::Result<T, E>;
