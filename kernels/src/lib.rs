//! Crossbar compute kernels: one layer's crossbars programmed from an integer weight matrix, run
//! bit-faithfully either on bit-planes (exact, noiseless) or on per-cell conductances (analogue,
//! for noise), with the ADC, column flipping, shift-and-add, bias removal and row-tile merging.
//!
//! No I/O and no LibTorch here: the simulator above owns configuration and files. The one thing
//! read from outside is `NESTEVO_SIMD` (module `simd`), refused with a `KernelError` when it is
//! not one of its allowed values.
//!
//! Modules, each importing only those on the lines above it (no circles):
//!
//! ```text
//! adc, counts              ADC law; event counts
//! config                   the arithmetic knobs (XbarConfig) and KernelError
//! simd, inputs             the SIMD tier (CPU features, NESTEVO_SIMD); DAC slices of the inputs
//! product                  the exact product where no conversion can saturate
//! program                  weights onto crossbars (and, where it is exact, the product);
//!                          work units and their gathering
//! exact, bitslice, analog  the bit-plane and analogue paths, side by side: none imports another
//! dispatch                 Programmed::run: decides the tier once, picks the path, removes bias
//! ```

mod adc;
mod analog;
mod bitslice;
mod config;
mod counts;
mod dispatch;
mod exact;
pub mod inputs;
mod product;
mod program;
mod simd;

pub use adc::{float_adc, AdcMode, FloatAdc};
pub use config::{KernelError, XbarConfig, MAX_INPUT_BITS};
pub use counts::Counts;
pub use inputs::InputMode;
pub use product::exact_product_holds;
pub use program::{ExactKernel, Programmed, ReadNoise};
