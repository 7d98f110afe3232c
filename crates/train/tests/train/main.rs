//! The LibTorch trainer: detectors, losses, noise.
//! One test binary for the crate; each module was once a file of its own.

mod train_detector;
mod train_noise;
mod train_noise_cell;
mod train_noise_chip;

/// LibTorch's random generator is one per process: tests that seed it and draw take this lock,
/// so that their draws are the seeded ones.
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
