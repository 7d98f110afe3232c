//! Crossbar compute kernels: one layer's crossbars programmed from an integer weight matrix, run
//! bit-faithfully either on bit-planes (exact, noiseless) or on per-cell conductances (analogue,
//! for noise), with the ADC, column flipping, shift-and-add, bias removal and row-tile merging.
//!
//! No I/O and no LibTorch here: the simulator above owns configuration and files.

mod adc;
mod analog;
mod bitslice;
mod config;
mod counts;
mod exact;
mod inputs;
mod program;

pub use adc::AdcMode;
pub use config::{KernelError, XbarConfig};
pub use counts::Counts;
pub use inputs::InputMode;
pub use program::{ExactKernel, Programmed, ReadNoise};
