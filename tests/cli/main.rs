//! The `nestevo` binary end to end, and the house rules (crate arrows, no circles).
//! One test binary for the crate; each module was once a file of its own.

mod architecture;
mod cim_cli;
mod cim_network_cli;
mod cim_simd_env;
mod cli_basics;
mod data_cli;
mod errors;
mod module_circles;
mod onnx_cli;
mod ppa_cli;
mod sched_cli;
mod serve_edge;
// Shared with the couple crate's tests; without LibTorch this binary uses only part of it.
#[allow(dead_code)]
#[path = "../../crates/couple/tests/couple/support.rs"]
mod support;
mod sweep_cli;
mod xbar_backend_cli;
mod xbar_torch_cli;
