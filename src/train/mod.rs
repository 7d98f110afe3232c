//! The LibTorch trainer (feature `torch`).

pub mod step_check;
