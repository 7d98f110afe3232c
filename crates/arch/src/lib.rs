//! Accelerator descriptions: the validated parameter object every other part of the simulator
//! reads, its TOML loader, `--set key=value` overrides and the shipped presets.

mod error;
mod load;
mod spec;
mod validate;

pub use error::ArchError;
pub use load::{
    apply_override, apply_overrides, check_override_form, load_arch, parse_arch, preset, PRESETS,
};
pub use spec::*;
