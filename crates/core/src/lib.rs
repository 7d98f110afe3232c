//! The house: what every crate shares. Typed errors that say whether the caller gave bad
//! input or something failed (`error`), the `invalid!`/`check!` macros, atomic writes, and the
//! one configuration mechanism (`config`: strict files, presets, `--set`, differences).

pub mod config;
pub mod error;
