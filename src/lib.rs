//! NestEvo-CIM: an ISAAC crossbar accelerator simulator and a co-evolution trainer.
//!
//! Dependencies point one way: `kernels` <- `arch` <- `cim` <- `ppa`; `model` is shared by the
//! mapper and the trainer; `train` (feature `torch`) never reaches into the simulator's internals.

pub mod arch;
pub mod cim;
pub mod data;
pub mod eval;
pub mod info;
pub mod model;
pub mod ppa;
pub mod sweep;
#[cfg(feature = "torch")]
pub mod train;

pub mod cli;
