//! Trained and imported networks on the simulated chip: checkpoints, ONNX, costs, sweep scores.
//! One test binary for the crate; each module was once a file of its own.

mod cim_network;
mod couple_batch;
mod couple_checkpoint;
mod couple_cost;
mod onnx_import;
mod onnx_ops;
mod support;
mod sweep_scores;

/// The tests read the shipped models, specs and experiment files by their repository paths, as
/// the command line does from the repository root; `cargo test` starts each crate's tests in the
/// crate's folder, so the binary moves to the root before any test runs.
#[ctor::ctor(unsafe)]
fn at_repository_root() {
    std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .expect("the repository root");
}
