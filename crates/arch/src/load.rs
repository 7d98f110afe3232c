//! Reading descriptions: from a file, from a shipped preset, with `--set` overrides, all
//! through the house's one configuration mechanism (`nestevo_core::config`).

use super::{validate::validate, ArchError, ArchSpec, WeightScale};
use nestevo_core::config::{self, Config};
use std::path::Path;

/// Presets compiled into the binary: `--arch isaac` works without the `arch/` folder.
pub const PRESETS: &[(&str, &str)] = &[
    ("isaac", include_str!("../../../arch/isaac.toml")),
    (
        "isaac-noflip-9bit",
        include_str!("../../../arch/isaac-noflip-9bit.toml"),
    ),
    (
        "xbar256-1bit",
        include_str!("../../../arch/xbar256-1bit.toml"),
    ),
];

impl Config for ArchSpec {
    const KIND: &'static str = "accelerator description";
    const SET_FORM: &'static str = "section.key=value";
    const PRESETS: &'static [(&'static str, &'static str)] = PRESETS;

    fn validate(&self, source: &str) -> Result<(), ArchError> {
        validate(self, source)
    }

    /// `data.weight_scale` is written out only when it is not the default.
    fn optional_field(path: &[&str]) -> Option<toml::Value> {
        (path == ["data", "weight_scale"])
            .then(|| toml::Value::String(WeightScale::Layer.as_str().into()))
    }
}

/// A preset by name (`isaac`, ...), validated.
pub fn preset(name: &str) -> Result<ArchSpec, ArchError> {
    config::preset(name)
}

/// Reads an accelerator description. `path` may also name a preset (`isaac`) when no such
/// file exists.
pub fn load_arch(path: &Path) -> Result<ArchSpec, ArchError> {
    match config::load(path) {
        Err(e) if !path.exists() && PRESETS.iter().any(|(n, _)| path.to_str() == Some(*n)) => {
            drop(e);
            preset(path.to_str().expect("a preset name"))
        }
        r => r,
    }
}

/// Parses and validates TOML text; `source` names it in errors.
pub fn parse_arch(text: &str, source: &str) -> Result<ArchSpec, ArchError> {
    config::parse(text, source)
}

/// Applies `section.key=value` overrides in order, then validates the result.
pub fn apply_overrides(
    spec: &ArchSpec,
    sets: &[String],
    source: &str,
) -> Result<ArchSpec, ArchError> {
    config::apply_overrides(spec, sets, source)
}

/// One `section.key=value` override. The key must exist; the value is read as the type the
/// field has.
pub fn apply_override(spec: &ArchSpec, set: &str, source: &str) -> Result<ArchSpec, ArchError> {
    config::apply_override(spec, set, source)
}

/// Whether `section.key=value` names a field of the description and holds a value of its type
/// (the description it makes is not checked).
pub fn check_override_form(spec: &ArchSpec, set: &str, source: &str) -> Result<(), ArchError> {
    config::check_override_form(spec, set, source)
}
