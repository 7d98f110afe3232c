//! The evolution system: configuration, maths, the loop, co-evolution, compression, the chip labeller.
//! One test binary for the crate; each module was once a file of its own.

#[cfg(feature = "torch")]
mod common;
mod couple_cim_label;
mod evolve_coevolve;
mod evolve_compress;
mod evolve_config;
mod evolve_feature_term;
mod evolve_folder;
mod evolve_labeller_config;
mod evolve_maths;
mod evolve_protocol;
mod evolve_sched_loop;
mod evolve_schedule;
mod evolve_terminal_samples;
mod evolve_torch;
mod train_smoke;

/// Tests that draw from LibTorch's one global generator (seeded weights, noise, batches) take
/// this lock first: run side by side they would draw from each other's streams, and the tests
/// that compare two runs for equality would see different draws.
pub(crate) fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The tests read the shipped models, specs and experiment files by their repository paths, as
/// the command line does from the repository root; `cargo test` starts each crate's tests in the
/// crate's folder, so the binary moves to the root before any test runs.
#[ctor::ctor(unsafe)]
fn at_repository_root() {
    std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .expect("the repository root");
}
