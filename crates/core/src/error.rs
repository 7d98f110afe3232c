//! What every library error says about itself: whether the caller gave bad input (a file, field
//! or value that can be corrected: a service answers 400) or something failed that the caller
//! could not have prevented (a fault: 500). Each module has its own typed error (thiserror)
//! that implements `Kinded`; `anyhow` lives only in the command line.

use std::fmt;

/// The two kinds a caller must tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input was wrong: the message names the file or field, the value and what is allowed.
    BadInput,
    /// The input was acceptable and the work failed anyway (I/O, LibTorch, an internal error).
    Fault,
}

/// Implemented by every module's error type.
pub trait Kinded {
    fn kind(&self) -> ErrorKind;
}

/// A bad value: where it came from (a file, a flag or a request; may be empty), the field, the
/// value and what is allowed. The shape of every "bad input" message in the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub file: String,
    pub field: String,
    pub value: String,
    pub allowed: String,
}

impl Invalid {
    pub fn new(
        file: impl Into<String>,
        field: impl Into<String>,
        value: impl fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        Invalid {
            file: file.into(),
            field: field.into(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.file.is_empty() {
            write!(f, "{}: ", self.file)?;
        }
        match (self.field.is_empty(), self.value.is_empty()) {
            (true, _) => write!(f, "{}", self.allowed),
            (false, true) => write!(f, "field `{}`: {}", self.field, self.allowed),
            (false, false) => write!(
                f,
                "field `{}` = {}: {}",
                self.field, self.value, self.allowed
            ),
        }
    }
}

impl std::error::Error for Invalid {}

impl Kinded for Invalid {
    fn kind(&self) -> ErrorKind {
        ErrorKind::BadInput
    }
}

/// An I/O failure on a named path (a fault unless the path itself was the bad input). Its
/// message already holds the cause, so it reports no `source()` (a chain would repeat it).
#[derive(Debug, thiserror::Error)]
#[error("{path}: cannot {action}: {cause}")]
pub struct IoError {
    pub path: String,
    pub action: &'static str,
    pub cause: std::io::Error,
}

impl IoError {
    pub fn new(path: &std::path::Path, action: &'static str, cause: std::io::Error) -> Self {
        IoError {
            path: path.display().to_string(),
            action,
            cause,
        }
    }

    /// A missing file or a permission problem is the caller's to correct.
    pub fn kind(&self) -> ErrorKind {
        match self.cause.kind() {
            std::io::ErrorKind::NotFound
            | std::io::ErrorKind::PermissionDenied
            | std::io::ErrorKind::NotADirectory
            | std::io::ErrorKind::IsADirectory
            | std::io::ErrorKind::InvalidData => ErrorKind::BadInput,
            _ => ErrorKind::Fault,
        }
    }
}

/// Writes `bytes` beside `path` and renames it into place, so that a reader never sees half a
/// file and a crash leaves the old file whole. The one atomic write of the project.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<(), IoError> {
    let name = path
        .file_name()
        .map_or_else(|| "out".to_string(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".tmp-{}-{name}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| IoError::new(&tmp, "write", e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        IoError::new(path, "write", e)
    })
}

/// An error type that can say where it happened ("layer `conv3` onto crossbars: ...").
pub trait Contextual: Sized {
    fn wrap(self, context: String) -> Self;
}

/// `result.ctx(|| format!("..."))`: the typed counterpart of anyhow's `with_context`.
pub trait Context<T, E: Contextual> {
    fn ctx(self, f: impl FnOnce() -> String) -> Result<T, E>;
}

impl<T, E: Contextual> Context<T, E> for Result<T, E> {
    fn ctx(self, f: impl FnOnce() -> String) -> Result<T, E> {
        self.map_err(|e| e.wrap(f()))
    }
}

/// A bad-input message in words (file, field, value and what is allowed), which every module's
/// error takes as its `Invalid` variant; see `invalid!` and `check!`.
#[derive(Debug)]
pub struct Message(pub String);

/// `return Err(<bad input>)` in any module whose error implements `From<Message>`.
#[macro_export]
macro_rules! invalid {
    ($($t:tt)*) => {
        return Err(::core::convert::From::from($crate::error::Message(format!($($t)*))))
    };
}

/// `if !cond { invalid!(...) }`.
#[macro_export]
macro_rules! check {
    ($cond:expr, $($t:tt)*) => {
        if !$cond {
            $crate::invalid!($($t)*);
        }
    };
}

/// The `Contextual` and `From<Message>` impls of a module error whose enum has the variants
/// `Invalid(String)` and `Context { context: String, inner: Box<Self> }`.
#[macro_export]
macro_rules! module_error {
    ($t:ident) => {
        impl $crate::error::Contextual for $t {
            fn wrap(self, context: String) -> Self {
                $t::Context {
                    context,
                    inner: Box::new(self),
                }
            }
        }

        impl From<$crate::error::Message> for $t {
            fn from(m: $crate::error::Message) -> Self {
                $t::Invalid(m.0)
            }
        }
    };
}
