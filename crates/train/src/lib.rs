//! The LibTorch trainer (feature `torch`): detectors built from model descriptions, their
//! losses and decoding, L1 pruning, Eq. 18-20 noise, checkpoints, the training loop and the
//! pretraining presets.

pub mod checkpoint;
pub mod decode;
pub mod detector;
mod error;
pub mod evaluate;
pub mod frames;
pub mod loss;
pub mod noise;
pub mod pretrain;
pub mod prune;
pub mod step_check;
pub mod trainer;

pub use error::{without_backtrace, Result, TrainError};
