/// A refused law or parameter: the field (a law's key, or a table file's line and column), the
/// value given and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}` = {value}: {allowed}")]
pub struct DeviceError {
    pub field: String,
    pub value: String,
    pub allowed: String,
}

impl DeviceError {
    pub fn new(
        field: impl Into<String>,
        value: impl std::fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        DeviceError {
            field: field.into(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }

    /// The same error under a longer field path (`device.laws.1` + `off_rate`).
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = if self.field.is_empty() {
            prefix.to_string()
        } else {
            format!("{prefix}.{}", self.field)
        };
        self
    }
}
