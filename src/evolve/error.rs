//! The errors of the evolution system: a bad experiment file (which file, field, value and what
//! is allowed), models that cannot be averaged, and failures of the training below.

use std::fmt;

/// A bad experiment description: which file, which field, what it held and what is allowed.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: String,
    pub field: String,
    pub value: String,
    pub allowed: String,
}

impl ConfigError {
    pub fn new(
        file: impl Into<String>,
        field: impl Into<String>,
        value: impl fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        ConfigError {
            file: file.into(),
            field: field.into(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.file, self.allowed)
        } else if self.value.is_empty() {
            write!(f, "{}: field `{}`: {}", self.file, self.field, self.allowed)
        } else {
            write!(
                f,
                "{}: field `{}` = {}: {}",
                self.file, self.field, self.value, self.allowed
            )
        }
    }
}

impl std::error::Error for ConfigError {}

#[derive(Debug, thiserror::Error)]
pub enum EvolveError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// FedAvg of models whose parameters do not line up (the paper's Table 2 premise).
    #[error("FedAvg: {0}")]
    FedAvg(String),
    /// Input that the caller can fix (empty frame lists, unknown layers, bad sizes).
    #[error("{0}")]
    BadInput(String),
    /// The trainer or LibTorch failed below (a NaN, a bad checkpoint, a device error).
    #[error(transparent)]
    Train(#[from] anyhow::Error),
}

pub type Result<T, E = EvolveError> = std::result::Result<T, E>;

impl From<crate::couple::label::LabelError> for EvolveError {
    fn from(e: crate::couple::label::LabelError) -> Self {
        use crate::couple::label::LabelError;
        match e {
            LabelError::BadInput(s) => EvolveError::BadInput(s),
            LabelError::Fault(s) => EvolveError::Train(anyhow::anyhow!(s)),
        }
    }
}
