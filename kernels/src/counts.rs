//! Event counts of one run, counted by the kernels as they do the work.

use std::ops::{Add, AddAssign};

/// See `nestevo::cim::LayerStats` for the definitions; these are the same fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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
