//! The errors of the evolution system: a bad experiment file (the house's `Invalid`: file,
//! field, value and what is allowed), models that cannot be averaged, other bad input, and
//! failures of the trainer, the evaluation or LibTorch below.

use nestevo_core::error::{ErrorKind, Invalid, IoError, Kinded, Message};
use nestevo_eval::EvalError;

/// A bad experiment description: which file, which field, what it held and what is allowed.
pub type ConfigError = Invalid;

#[derive(Debug, thiserror::Error)]
pub enum EvolveError {
    #[error(transparent)]
    Config(#[from] Invalid),
    /// FedAvg of models whose parameters do not line up (the paper's Table 2 premise).
    #[error("FedAvg: {0}")]
    FedAvg(String),
    /// Input that the caller can fix (empty frame lists, unknown layers, bad sizes).
    #[error("{0}")]
    BadInput(String),
    /// A failure the caller could not have prevented (LibTorch, a diverged run).
    #[error("{0}")]
    Fault(String),
    #[cfg(feature = "torch")]
    #[error(transparent)]
    Train(#[from] nestevo_train::TrainError),
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error(transparent)]
    Io(#[from] IoError),
}

impl Kinded for EvolveError {
    fn kind(&self) -> ErrorKind {
        match self {
            EvolveError::Config(_) | EvolveError::FedAvg(_) | EvolveError::BadInput(_) => {
                ErrorKind::BadInput
            }
            EvolveError::Fault(_) => ErrorKind::Fault,
            #[cfg(feature = "torch")]
            EvolveError::Train(e) => e.kind(),
            EvolveError::Eval(e) => e.kind(),
            EvolveError::Io(e) => e.kind(),
        }
    }
}

impl From<Message> for EvolveError {
    fn from(m: Message) -> Self {
        EvolveError::BadInput(m.0)
    }
}

#[cfg(feature = "torch")]
impl From<tch::TchError> for EvolveError {
    fn from(e: tch::TchError) -> Self {
        EvolveError::Fault(format!(
            "LibTorch: {}",
            nestevo_train::without_backtrace(&e.to_string())
        ))
    }
}

impl From<nestevo_couple::label::LabelError> for EvolveError {
    fn from(e: nestevo_couple::label::LabelError) -> Self {
        use nestevo_couple::label::LabelError;
        match e {
            LabelError::BadInput(s) => EvolveError::BadInput(s),
            LabelError::Fault(s) => EvolveError::Fault(s),
        }
    }
}

pub type Result<T, E = EvolveError> = std::result::Result<T, E>;
