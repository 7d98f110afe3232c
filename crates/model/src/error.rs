use std::fmt;

/// A bad model description: the file, the layer (name or `#index`), the field and what is
/// allowed. Empty `layer`/`field` mean the error concerns the whole file.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelError {
    pub file: String,
    pub layer: String,
    pub field: String,
    pub message: String,
}

impl ModelError {
    pub fn new(
        file: impl Into<String>,
        layer: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ModelError {
            file: file.into(),
            layer: layer.into(),
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if !self.layer.is_empty() {
            write!(f, ": layer `{}`", self.layer)?;
        }
        if !self.field.is_empty() {
            write!(f, ": field `{}`", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ModelError {}

impl nestevo_core::error::Kinded for ModelError {
    /// A description or checkpoint that does not fit is always the caller's to correct.
    fn kind(&self) -> nestevo_core::error::ErrorKind {
        nestevo_core::error::ErrorKind::BadInput
    }
}
