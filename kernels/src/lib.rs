//! Crossbar compute kernels: one tile's bit-plane and analogue MVM, the ADC and shift-and-add.
//!
//! No I/O and no LibTorch here: the simulator above owns configuration and files.
