use nestevo_core::error::{ErrorKind, Invalid, Kinded};
use nestevo_kernels::KernelError;
use nestevo_model::ModelError;

/// Errors of the simulator: shapes and settings that do not fit (bad input), a model
/// description or checkpoint that does not fit the network, a configuration the crossbar
/// kernels refuse, and internal faults.
#[derive(Debug, thiserror::Error)]
pub enum CimError {
    /// Bad input, described in full.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Field(#[from] Invalid),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Kernel(#[from] KernelError),
    /// A broken invariant of the simulator itself.
    #[error("internal error: {0}")]
    Internal(String),
    #[error("{context}: {inner}")]
    Context {
        context: String,
        inner: Box<CimError>,
    },
}

impl Kinded for CimError {
    fn kind(&self) -> ErrorKind {
        match self {
            CimError::Internal(_) => ErrorKind::Fault,
            CimError::Context { inner, .. } => inner.kind(),
            _ => ErrorKind::BadInput,
        }
    }
}

nestevo_core::module_error!(CimError);

pub type Result<T, E = CimError> = std::result::Result<T, E>;

impl From<ndarray::ShapeError> for CimError {
    fn from(e: ndarray::ShapeError) -> Self {
        CimError::Internal(format!("array shape: {e}"))
    }
}
