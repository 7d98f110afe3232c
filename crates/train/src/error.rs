use nestevo_core::error::{ErrorKind, Invalid, IoError, Kinded};
use nestevo_data::DataError;
use nestevo_eval::EvalError;
use nestevo_model::ModelError;

/// Errors of the trainer: bad input (a description, checkpoint or setting that does not fit,
/// checked before LibTorch sees it), LibTorch failures (first line only: the C++ backtrace never
/// reaches the user), a diverged run, and I/O.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Field(#[from] Invalid),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error(transparent)]
    Io(#[from] IoError),
    /// LibTorch refused or failed an operation.
    #[error("LibTorch: {0}")]
    Torch(String),
    /// The loss became NaN or infinite: the model, step and value are named.
    #[error("{0}")]
    Diverged(String),
    #[error("{context}: {inner}")]
    Context {
        context: String,
        inner: Box<TrainError>,
    },
}

impl Kinded for TrainError {
    fn kind(&self) -> ErrorKind {
        match self {
            TrainError::Invalid(_) | TrainError::Field(_) | TrainError::Model(_) => {
                ErrorKind::BadInput
            }
            TrainError::Data(e) => e.kind(),
            TrainError::Eval(e) => e.kind(),
            TrainError::Io(e) => e.kind(),
            TrainError::Torch(_) | TrainError::Diverged(_) => ErrorKind::Fault,
            TrainError::Context { inner, .. } => inner.kind(),
        }
    }
}

nestevo_core::module_error!(TrainError);

impl From<tch::TchError> for TrainError {
    fn from(e: tch::TchError) -> Self {
        TrainError::Torch(without_backtrace(&e.to_string()))
    }
}

/// LibTorch's messages end in "Exception raised from ..." and a C++ stack of frames; keep what
/// comes before.
pub fn without_backtrace(msg: &str) -> String {
    let cut = [
        "Exception raised from",
        "frame #0",
        "(most recent call first)",
    ]
    .iter()
    .filter_map(|m| msg.find(m))
    .min()
    .unwrap_or(msg.len());
    let head = msg[..cut].trim();
    let head = if head.is_empty() {
        msg.lines().next().unwrap_or("")
    } else {
        head
    };
    head.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

pub type Result<T, E = TrainError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::without_backtrace;

    /// The C++ stack of a LibTorch message is cut, its first lines kept.
    #[test]
    fn backtraces_are_cut() {
        let m = "shape mismatch for c1.weight\nException raised from load at x.cpp:12\nframe #0: c10::Error";
        assert_eq!(without_backtrace(m), "shape mismatch for c1.weight");
    }
}
