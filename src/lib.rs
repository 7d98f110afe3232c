//! NestEvo-CIM: an ISAAC crossbar accelerator simulator and a co-evolution trainer.
//!
//! Dependencies point one way: `kernels` <- `arch` <- `cim` <- `ppa`; `model` is shared by the
//! mapper and the trainer; `train` (feature `torch`) never reaches into the simulator's internals.

pub mod arch;
pub mod cim;
pub mod data;
pub mod engines;
pub mod eval;
pub mod info;
pub mod model;
pub mod ppa;
#[cfg(feature = "torch")]
pub mod train;
/// The crossbars' arithmetic on LibTorch tensors (a second `cim` engine).
#[cfg(feature = "torch")]
pub mod xbar_torch;

pub mod cli;
