//! The house: what every crate shares. Typed errors that say whether the caller gave bad
//! input or something failed (`error`), the `invalid!`/`check!` macros, atomic writes.

pub mod error;
