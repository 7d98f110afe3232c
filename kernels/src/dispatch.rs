//! Running a programmed layer: checks the inputs, decides the SIMD tier once, picks the path
//! (analogue when conductances are programmed; otherwise the exact product where no conversion
//! can saturate, else bit-sliced where it applies and pays, else popcount) and turns the merged shift-and-add sums back into integers:
//!
//! y[v, o] = round(lsb * S[v, o]) - 2^(weight_bits-1) * sum_r a[v, r] - offset * sum_r w[r, o]
//!
//! where S is the path's sum over row tiles and cycles of w_b * code_b, lsb the ADC's step in
//! cell steps (1 in the exact range), a the applied input patterns and offset the offset-binary
//! shift of signed inputs on wide DACs (0 otherwise). The bias term removes the weight bias
//! 2^(weight_bits-1) added at programming.
//!
//! The only module that calls the paths: they never call each other or back into this one.

use crate::adc;
use crate::config::{fail, KernelError};
use crate::counts::Counts;
use crate::inputs::{self, InputMode};
use crate::program::{ExactKernel, Programmed, ReadNoise};
use crate::simd;
use crate::{analog, bitslice, exact, product};

impl Programmed {
    /// Runs `batch` input vectors (row-major batch x K). Returns y_int (batch x N, after bias
    /// removal, before any scaling) and the event counts of the run.
    pub fn run(
        &self,
        x: &[i64],
        batch: usize,
        mode: InputMode,
        read: Option<ReadNoise>,
    ) -> Result<(Vec<i64>, Counts), KernelError> {
        inputs::check(&self.cfg, x, batch, self.k, mode)?;
        if read.is_some() && !self.analog {
            return fail("read noise needs the analogue path: program conductances first");
        }
        // The one SIMD decision of this product, handed to whichever path runs (a bad
        // NESTEVO_SIMD is refused whichever path that is).
        let simd = simd::decide()?;
        if let (Some(l), false, ExactKernel::Auto) = (&self.linear, self.analog, self.kernel) {
            let (y, counts) = product::run(l, x, batch, self.k, self.n);
            return Ok((y, self.layer_counts(counts, batch)));
        }
        let prep = inputs::encode_checked(&self.cfg, x, batch, self.k, mode);
        let (mut acc, counts) = if self.analog {
            // 1-bit DACs add conductance rows by input bit; wider DACs multiply by levels.
            if self.cfg.dac_bits == 1 {
                let planes = inputs::input_planes(&self.cfg, &prep, self.k);
                analog::run(self, &prep, &[], Some(&planes), read, simd)?
            } else {
                let lv = inputs::input_levels(&self.cfg, &prep, self.k);
                analog::run(self, &prep, &lv, None, read, simd)?
            }
        } else if self.bit_sliced(batch) {
            let xt = bitslice::transpose(self, &prep);
            bitslice::run(self, &prep, &xt, simd)
        } else {
            let planes = inputs::input_planes(&self.cfg, &prep, self.k);
            exact::run(self, &prep, &planes, simd)
        };
        let lsb = adc::lsb(self.cfg.adc_mode, self.cfg.max_code());
        let bias = 1i64 << (self.cfg.weight_bits - 1);
        for (v, row) in acc.chunks_mut(self.n).enumerate() {
            for (o, y) in row.iter_mut().enumerate() {
                let steps = if lsb == 1.0 {
                    *y
                } else {
                    (*y as f64 * lsb).round() as i64
                };
                *y = steps - bias * prep.applied_sum[v] - prep.offset * self.wsum[o];
            }
        }
        Ok((acc, self.layer_counts(counts, batch)))
    }

    /// The counts every path shares, from the layer's shape.
    fn layer_counts(&self, mut counts: Counts, batch: usize) -> Counts {
        counts.crossbars = self.xbars.len() as u64;
        counts.vectors = batch as u64;
        counts.macs = (self.k * self.n * batch) as u64;
        counts
    }

    fn bit_sliced(&self, batch: usize) -> bool {
        bitslice::supports(self)
            && match self.kernel {
                ExactKernel::Popcount => false,
                ExactKernel::BitSliced => true,
                // Below about 12 vectors a half-empty block of 32 costs more than it saves.
                ExactKernel::Auto => batch >= 16,
            }
    }
}
