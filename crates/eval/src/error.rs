use nestevo_core::error::{ErrorKind, Invalid, IoError, Kinded};

/// Errors of evaluation: bad frames, heads or results files, and I/O.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Field(#[from] Invalid),
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("{context}: {inner}")]
    Context {
        context: String,
        inner: Box<EvalError>,
    },
}

impl Kinded for EvalError {
    fn kind(&self) -> ErrorKind {
        match self {
            EvalError::Io(e) => e.kind(),
            EvalError::Context { inner, .. } => inner.kind(),
            _ => ErrorKind::BadInput,
        }
    }
}

nestevo_core::module_error!(EvalError);
