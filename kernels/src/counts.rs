//! Event counts of one run, counted by the kernels as they do the work. The simulator reports
//! them as `nestevo::cim::LayerStats`, and the analytical performance model predicts the same
//! numbers, so the definitions are fixed (docs/simulator.md):
//! - `crossbars`: crossbars one copy of the layer occupies, ceil(K/rows) * ceil(N/floor(cols/slices));
//! - `crossbar_reads`: one per crossbar per input-slice cycle;
//! - `dac_pulses`: one per driven row per read (zero bits count too);
//! - `adc_conversions`: one per used data column per read, plus the unit column once per
//!   crossbar read when flipping is on;
//! - `adc_saturations`: conversions whose input was above the ADC's range;
//! - `shift_adds`: one per data-column conversion;
//! - `vectors`: input vectors processed; `macs`: K * N * vectors.

use serde::{Deserialize, Serialize};
use std::ops::{Add, AddAssign};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub crossbars: u64,
    pub crossbar_reads: u64,
    pub dac_pulses: u64,
    pub adc_conversions: u64,
    pub adc_saturations: u64,
    pub shift_adds: u64,
    pub vectors: u64,
    pub macs: u64,
}

impl Counts {
    /// Saturated conversions / conversions (0 when none ran).
    pub fn saturation_rate(&self) -> f64 {
        if self.adc_conversions == 0 {
            0.0
        } else {
            self.adc_saturations as f64 / self.adc_conversions as f64
        }
    }

    /// Adds a further run of the same layer: its crossbars are the same ones, not more.
    pub fn merge_run(&mut self, o: &Counts) {
        let crossbars = self.crossbars.max(o.crossbars);
        *self += *o;
        self.crossbars = crossbars;
    }
}

/// Sums every count: the totals of several layers (or of a layer's groups).
impl AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.crossbars += o.crossbars;
        self.crossbar_reads += o.crossbar_reads;
        self.dac_pulses += o.dac_pulses;
        self.adc_conversions += o.adc_conversions;
        self.adc_saturations += o.adc_saturations;
        self.shift_adds += o.shift_adds;
        self.vectors += o.vectors;
        self.macs += o.macs;
    }
}

impl Add for Counts {
    type Output = Counts;
    fn add(mut self, o: Counts) -> Counts {
        self += o;
        self
    }
}
