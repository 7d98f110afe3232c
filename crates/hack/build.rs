//! Empty: Cargo reads a package's build-dependencies (and so unifies their features) only when
//! it has a build script.
fn main() {}
