//! The ADC: a column's sum in cell steps becomes a code; values above the range saturate.

/// How codes map to column sums.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AdcMode {
    /// LSB = one cell step: code = clamp(round(S), 0, 2^bits - 1).
    Exact,
    /// LSB = full_scale / (2^bits - 1): code = clamp(round(S / LSB), 0, 2^bits - 1); the
    /// digital side multiplies the merged result by LSB and rounds once at the end.
    Calibrated { full_scale: f64 },
}

/// Integer sums (bit-plane path). Generic so the exact case compiles to a plain `min`.
pub(crate) trait IntAdc: Sync {
    fn code(&self, s: u64) -> u64;
    fn saturated(&self, s: u64) -> bool;
}

pub(crate) struct ExactAdc {
    pub max: u64,
}
impl IntAdc for ExactAdc {
    #[inline(always)]
    fn code(&self, s: u64) -> u64 {
        s.min(self.max)
    }
    #[inline(always)]
    fn saturated(&self, s: u64) -> bool {
        s > self.max
    }
}

pub(crate) struct CalAdc {
    pub inv_lsb: f64,
    pub max: u64,
    pub full_scale: f64,
}
impl IntAdc for CalAdc {
    #[inline(always)]
    fn code(&self, s: u64) -> u64 {
        ((s as f64 * self.inv_lsb + 0.5).floor() as u64).min(self.max)
    }
    #[inline(always)]
    fn saturated(&self, s: u64) -> bool {
        s as f64 > self.full_scale
    }
}

/// Float sums (analogue path): the same law on a real-valued input, clamped at 0 below.
#[derive(Debug, Clone, Copy)]
pub struct FloatAdc {
    /// Multiplier from cell steps to LSBs (1 in the exact range).
    pub inv_lsb: f32,
    pub max: f32,
    /// A conversion saturates when its input (in cell steps) exceeds this.
    pub sat_above: f32,
}
impl FloatAdc {
    #[inline(always)]
    pub fn code(&self, s: f32) -> f32 {
        (s * self.inv_lsb + 0.5).floor().clamp(0.0, self.max)
    }
}

/// Multiplier from accumulated codes back to cell steps (1 in the exact range).
pub(crate) fn lsb(mode: AdcMode, max_code: u32) -> f64 {
    match mode {
        AdcMode::Exact => 1.0,
        AdcMode::Calibrated { full_scale } => full_scale / max_code as f64,
    }
}

/// The analogue ADC of a configuration: the one law every engine's analogue path applies.
pub fn float_adc(mode: AdcMode, max_code: u32) -> FloatAdc {
    match mode {
        AdcMode::Exact => FloatAdc {
            inv_lsb: 1.0,
            max: max_code as f32,
            sat_above: max_code as f32 + 0.5,
        },
        AdcMode::Calibrated { full_scale } => FloatAdc {
            inv_lsb: (max_code as f64 / full_scale) as f32,
            max: max_code as f32,
            sat_above: full_scale as f32,
        },
    }
}
