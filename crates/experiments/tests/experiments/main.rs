//! Experiments: an evolution run with its figure.
//! One test binary for the crate; each module was once a file of its own.

#[cfg(feature = "torch")]
#[path = "../../../evolve/tests/evolve/common/mod.rs"]
mod common;
mod evolve_run;
#[cfg(feature = "torch")]
mod noise_paired;
mod points_file;
#[cfg(feature = "torch")]
mod sweep_tables;
#[cfg(feature = "torch")]
mod thresholds_choice;

/// LibTorch's random generator is one per process: tests that train and compare runs bit for bit
/// take this lock so that no other test draws from it meanwhile.
#[cfg(feature = "torch")]
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
