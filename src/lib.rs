//! NestEvo-CIM: an ISAAC crossbar accelerator simulator and a co-evolution trainer.
//!
//! Arrows (a module uses what it points to; docs/architecture.md has the whole map and
//! `tests/architecture.rs` checks it): the simulator is `cim` -> `kernels`, `arch`, `model` and
//! `ppa` -> `arch`, `model` (`ppa` predicts what `cim` counts without using it); `eval` ->
//! `data`; `couple` (trained networks on the chip) -> the simulator, `data`, `eval`; `train`
//! (feature `torch`) -> `model`, `data`, `eval`; `cli` -> everything, and nothing uses `cli`.
//! The simulator never uses `data`, `eval`, `train`, `couple` or `cli`.

pub mod arch;
pub mod cim;
pub mod couple;
pub mod data;
pub mod engines;
pub mod error;
pub mod eval;
pub mod evolve;
pub mod info;
pub mod model;
pub mod ppa;
pub mod sched;
pub mod sweep;
#[cfg(feature = "torch")]
pub mod train;
/// The crossbars' arithmetic on LibTorch tensors (a second `cim` engine).
#[cfg(feature = "torch")]
pub mod xbar_torch;

pub mod cli;
