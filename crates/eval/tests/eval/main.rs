//! mAP against pycocotools figures, bootstrap intervals, results files.
//! One test binary for the crate; each module was once a file of its own.

mod eval_coco_crosscheck;
mod eval_heldout;
mod eval_map;
mod eval_results;

/// The tests read the shipped models, specs and experiment files by their repository paths, as
/// the command line does from the repository root; `cargo test` starts each crate's tests in the
/// crate's folder, so the binary moves to the root before any test runs.
#[ctor::ctor(unsafe)]
fn at_repository_root() {
    std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .expect("the repository root");
}
