use nestevo_core::error::{ErrorKind, Invalid, IoError, Kinded};

/// Errors of the data module: a corrupt or inconsistent frame, folder or labels file (bad
/// input), and I/O.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Field(#[from] Invalid),
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("{context}: {inner}")]
    Context {
        context: String,
        inner: Box<DataError>,
    },
}

impl Kinded for DataError {
    fn kind(&self) -> ErrorKind {
        match self {
            DataError::Io(e) => e.kind(),
            DataError::Context { inner, .. } => inner.kind(),
            _ => ErrorKind::BadInput,
        }
    }
}

nestevo_core::module_error!(DataError);

pub type Result<T, E = DataError> = std::result::Result<T, E>;
