//! Nothing to use: this crate exists for the features its manifest names (see Cargo.toml).
