//! The arithmetic knobs of one crossbar, independent of how they were described.

use crate::adc::AdcMode;
use std::fmt;

/// The widest input the kernels take: the applied patterns are u32, every partial sum an i64,
/// and the engines that keep integer codes in f32 hold them exactly below 2^24.
pub const MAX_INPUT_BITS: u32 = 24;

/// Everything the arithmetic depends on. `nestevo::cim` builds this from an `ArchSpec`.
#[derive(Debug, Clone, PartialEq)]
pub struct XbarConfig {
    pub rows: usize,
    pub cols: usize,
    pub bits_per_cell: u32,
    pub weight_bits: u32,
    pub input_bits: u32,
    pub dac_bits: u32,
    pub adc_bits: u32,
    pub adc_mode: AdcMode,
    /// Store `cell_max - c` in columns whose stored sum exceeds half their full scale.
    pub flip: bool,
    /// Conductance of level 0 and of the top level, uS (analogue path only).
    pub g_min: f64,
    pub g_max: f64,
}

/// A kernel-level refusal (bad shape, value out of range, inconsistent knobs).
#[derive(Debug, Clone, PartialEq)]
pub struct KernelError(pub String);

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for KernelError {}

pub(crate) fn fail<T>(msg: impl Into<String>) -> Result<T, KernelError> {
    Err(KernelError(msg.into()))
}

impl XbarConfig {
    /// ISAAC's crossbar as the kernels see it: 128 x 128 cells of 2 bits, 16-bit weights and
    /// inputs, 1-bit DACs, an exact 8-bit ADC with column flipping, conductances 1 to 100 (the
    /// `arch` crate's `isaac` preset gives the same; the kernels' tests and examples start here).
    pub fn isaac() -> Self {
        XbarConfig {
            rows: 128,
            cols: 128,
            bits_per_cell: 2,
            weight_bits: 16,
            input_bits: 16,
            dac_bits: 1,
            adc_bits: 8,
            adc_mode: AdcMode::Exact,
            flip: true,
            g_min: 1.0,
            g_max: 100.0,
        }
    }
    pub fn slices(&self) -> usize {
        (self.weight_bits / self.bits_per_cell) as usize
    }
    pub fn cycles(&self) -> usize {
        self.input_bits.div_ceil(self.dac_bits) as usize
    }
    pub fn cell_max(&self) -> u32 {
        (1u32 << self.bits_per_cell) - 1
    }
    pub fn dac_max(&self) -> u32 {
        (1u32 << self.dac_bits) - 1
    }
    pub fn max_code(&self) -> u32 {
        ((1u64 << self.adc_bits) - 1) as u32
    }
    /// Outputs one crossbar's columns hold (all slices of a weight share a row).
    pub fn outputs_per_xbar(&self) -> usize {
        self.cols / self.slices()
    }
    pub fn words(&self) -> usize {
        self.rows.div_ceil(64)
    }

    pub(crate) fn check(&self) -> Result<(), KernelError> {
        let ok = self.rows > 0
            && self.cols > 0
            && (1..=8).contains(&self.bits_per_cell)
            && (2..=16).contains(&self.weight_bits)
            && (1..=MAX_INPUT_BITS).contains(&self.input_bits)
            && (1..=8).contains(&self.dac_bits)
            && self.dac_bits <= self.input_bits
            && self.input_bits.is_multiple_of(self.dac_bits)
            && (1..=16).contains(&self.adc_bits)
            && self.weight_bits.is_multiple_of(self.bits_per_cell)
            && self.cols >= self.slices();
        if !ok {
            return fail(format!("inconsistent crossbar configuration: {self:?}"));
        }
        if let AdcMode::Calibrated { full_scale } = self.adc_mode {
            if !(full_scale.is_finite() && full_scale > 0.0) {
                return fail(format!("ADC full scale must be > 0, got {full_scale}"));
            }
        }
        if !(self.g_min.is_finite() && self.g_max.is_finite() && self.g_max > self.g_min) {
            return fail(format!(
                "conductance range must have g_max > g_min, got {}..{}",
                self.g_min, self.g_max
            ));
        }
        Ok(())
    }
}
