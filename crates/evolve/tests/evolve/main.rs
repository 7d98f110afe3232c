//! The evolution system: configuration, maths, the loop, co-evolution, compression, the chip labeller.
//! One test binary for the crate; each module was once a file of its own.

#[cfg(feature = "torch")]
mod common;
mod couple_cim_label;
mod evolve_coevolve;
mod evolve_compress;
mod evolve_config;
mod evolve_folder;
mod evolve_labeller_config;
mod evolve_maths;
mod evolve_protocol;
mod evolve_sched_loop;
mod evolve_schedule;
mod evolve_torch;
mod train_smoke;

/// The tests read the shipped models, specs and experiment files by their repository paths, as
/// the command line does from the repository root; `cargo test` starts each crate's tests in the
/// crate's folder, so the binary moves to the root before any test runs.
#[ctor::ctor(unsafe)]
fn at_repository_root() {
    std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .expect("the repository root");
}
