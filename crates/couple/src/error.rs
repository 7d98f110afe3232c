use nestevo_arch::ArchError;
use nestevo_cim::CimError;
use nestevo_core::error::{ErrorKind, IoError, Kinded};
use nestevo_data::DataError;
use nestevo_eval::EvalError;
use nestevo_model::ModelError;

/// Errors of running a trained network on the chip: each part's own error, kept whole.
#[derive(Debug, thiserror::Error)]
pub enum CoupleError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Arch(#[from] ArchError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Cim(#[from] CimError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("{context}: {inner}")]
    Context {
        context: String,
        inner: Box<CoupleError>,
    },
}

impl Kinded for CoupleError {
    fn kind(&self) -> ErrorKind {
        match self {
            CoupleError::Invalid(_) => ErrorKind::BadInput,
            CoupleError::Arch(e) => e.kind(),
            CoupleError::Model(e) => e.kind(),
            CoupleError::Cim(e) => e.kind(),
            CoupleError::Data(e) => e.kind(),
            CoupleError::Eval(e) => e.kind(),
            CoupleError::Io(e) => e.kind(),
            CoupleError::Context { inner, .. } => inner.kind(),
        }
    }
}

nestevo_core::module_error!(CoupleError);
