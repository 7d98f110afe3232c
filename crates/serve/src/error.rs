//! The service's errors, in the words a caller can act on. Each says which kind of answer it
//! is (bad field, missing or wrong credentials, not found, conflict, too large, busy, fault);
//! the HTTP layer maps kinds to status codes, the state below it never names a status.

use nestevo_core::error::{ErrorKind, IoError, Kinded};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A request field (a header, a path part, a JSON field or the body) that the caller can fix.
    #[error("field `{field}`: {message}")]
    BadField { field: String, message: String },
    /// No credentials, or credentials that belong to nobody.
    #[error("{0}")]
    Unauthorized(String),
    /// Valid credentials of someone else.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("field `{field}`: the body is over the limit of {limit} bytes")]
    TooLarge { field: String, limit: usize },
    /// The queue is over its bound: try again in `retry_after_s` seconds.
    #[error("{message}; retry in {retry_after_s} s")]
    Busy { message: String, retry_after_s: u64 },
    /// A bad server configuration (file, field, value, what is allowed).
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Fault(String),
    #[error(transparent)]
    Io(#[from] IoError),
}

impl ServeError {
    pub fn bad(field: &str, message: impl Into<String>) -> Self {
        ServeError::BadField {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The field the message names, where there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            ServeError::BadField { field, .. } | ServeError::TooLarge { field, .. } => Some(field),
            ServeError::Unauthorized(_) | ServeError::Forbidden(_) => Some("Authorization"),
            _ => None,
        }
    }
}

impl Kinded for ServeError {
    fn kind(&self) -> ErrorKind {
        match self {
            ServeError::Fault(_) | ServeError::Busy { .. } => ErrorKind::Fault,
            ServeError::Io(e) => e.kind(),
            _ => ErrorKind::BadInput,
        }
    }
}

/// A bad configuration value (file, field, value, what is allowed).
impl From<nestevo_core::error::Invalid> for ServeError {
    fn from(e: nestevo_core::error::Invalid) -> Self {
        ServeError::Config(e.to_string())
    }
}

impl From<rusqlite::Error> for ServeError {
    fn from(e: rusqlite::Error) -> Self {
        ServeError::Fault(format!("state database: {e}"))
    }
}

impl From<nestevo_evolve::EvolveError> for ServeError {
    fn from(e: nestevo_evolve::EvolveError) -> Self {
        ServeError::Fault(format!("evolution: {e}"))
    }
}

/// A terminal's frames that cannot be read (a corrupt PNG, past a folder's end): the input's fault.
impl From<nestevo_data::DataError> for ServeError {
    fn from(e: nestevo_data::DataError) -> Self {
        ServeError::Config(format!("frames: {e}"))
    }
}

impl From<nestevo_train::TrainError> for ServeError {
    fn from(e: nestevo_train::TrainError) -> Self {
        ServeError::Fault(format!("model: {e}"))
    }
}

pub type Result<T, E = ServeError> = std::result::Result<T, E>;
