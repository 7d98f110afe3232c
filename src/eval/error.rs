use crate::error::{ErrorKind, Invalid, IoError, Kinded, Message};

/// Errors of evaluation: bad frames, heads or results files, and I/O.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Field(#[from] Invalid),
    #[error(transparent)]
    Io(#[from] IoError),
}

impl Kinded for EvalError {
    fn kind(&self) -> ErrorKind {
        match self {
            EvalError::Io(e) => e.kind(),
            _ => ErrorKind::BadInput,
        }
    }
}

impl From<Message> for EvalError {
    fn from(m: Message) -> Self {
        EvalError::Invalid(m.0)
    }
}
