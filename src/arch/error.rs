use std::fmt;

/// A bad accelerator description: which file, which field, what it held and what is allowed.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchError {
    pub file: String,
    pub field: String,
    pub value: String,
    pub allowed: String,
}

impl ArchError {
    pub fn new(
        file: impl Into<String>,
        field: impl Into<String>,
        value: impl fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        ArchError {
            file: file.into(),
            field: field.into(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }
}

impl fmt::Display for ArchError {
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

impl std::error::Error for ArchError {}

impl crate::error::Kinded for ArchError {
    /// An accelerator description that does not validate is always the caller's to correct.
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::BadInput
    }
}
