//! Float layers on crossbars: quantise (SPEC 3.2 step 1), run the integer matrix, rescale
//! (step 8: y = s_w * s_x * y_int + bias).

use super::backend::Backend;
use super::error::Result;
use super::matrix::CimMatrix;
use super::noise::{perturb_f32, NoiseMode, NoiseSpec};
use super::quant::{ActQuant, WeightQuant};
use super::stats::LayerStats;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use nestevo_arch::{ArchSpec, WeightScale};
use nestevo_core::invalid;

/// A float K x N weight matrix, quantised and programmed.
pub struct QuantMatrix {
    pub wq: WeightQuant,
    mat: CimMatrix,
}

impl QuantMatrix {
    /// Weight noise is Eq. 18-20 on the float weights before quantisation; cell noise is
    /// passed to the crossbars.
    pub fn new(spec: &ArchSpec, w: ArrayView2<f32>, noise: &NoiseSpec) -> Result<Self> {
        Self::new_on(spec, w, noise, &Backend::cpu())
    }

    /// `new` on the engine `backend`.
    pub fn new_on(
        spec: &ArchSpec,
        w: ArrayView2<f32>,
        noise: &NoiseSpec,
        backend: &Backend,
    ) -> Result<Self> {
        noise.check()?;
        let mut prog_noise = *noise;
        // Weight noise perturbs a copy; otherwise the weights are read where they lie (a conv's
        // are a transposed view: one pass quantises them into the crossbars' layout).
        let perturbed = (noise.mode == NoiseMode::Weight).then(|| {
            let mut w = w.as_standard_layout().into_owned();
            perturb_f32(w.as_slice_mut().expect("owned"), noise.mu, noise.seed);
            prog_noise.mode = NoiseMode::None;
            w
        });
        let w = match &perturbed {
            Some(p) => p.view(),
            None => w.view(),
        };
        let owned;
        let flat = match w.as_slice_memory_order() {
            Some(s) => s,
            None => {
                owned = w.as_standard_layout().into_owned();
                owned.as_slice().expect("owned")
            }
        };
        // One pass gives both the finiteness and the layer's max-abs.
        let top = nestevo_model::abs_max_bits(flat);
        if top >= f32::INFINITY.to_bits() {
            invalid!("weights hold a non-finite value");
        }
        let wq = match spec.data.weight_scale {
            WeightScale::Layer => {
                WeightQuant::from_max_abs(f32::from_bits(top), spec.data.weight_bits)
            }
            WeightScale::Column => WeightQuant::per_column(w, spec.data.weight_bits),
        };
        let mat = CimMatrix::program_on(backend, spec, wq.quantize(w).view(), &prog_noise)?;
        Ok(QuantMatrix { wq, mat })
    }

    pub fn shape(&self) -> (usize, usize) {
        self.mat.shape()
    }

    /// The programmed integer matrix.
    pub fn matrix(&self) -> &CimMatrix {
        &self.mat
    }

    /// x (B x K floats) -> s_w * s_x * y_int (B x N), no bias.
    pub fn forward(&self, x: ArrayView2<f32>, act: &ActQuant) -> Result<(Array2<f32>, LayerStats)> {
        let xi = act.quantize(x);
        let (y, stats) = self.mat.mvm(xi.view(), act.signed)?;
        Ok((self.wq.dequantize(y.view(), act.scale), stats))
    }
}

/// A fully connected layer: weight `[out, in]` (PyTorch layout), optional bias `[out]`.
pub struct CimLinear {
    qm: QuantMatrix,
    bias: Array1<f32>,
    act: Option<ActQuant>,
    input_bits: u32,
}

impl CimLinear {
    pub fn new(
        spec: &ArchSpec,
        weight: ArrayView2<f32>,
        bias: Option<Array1<f32>>,
        noise: &NoiseSpec,
    ) -> Result<Self> {
        Self::new_on(spec, weight, bias, noise, &Backend::cpu())
    }

    /// `new` on the engine `backend`.
    pub fn new_on(
        spec: &ArchSpec,
        weight: ArrayView2<f32>,
        bias: Option<Array1<f32>>,
        noise: &NoiseSpec,
        backend: &Backend,
    ) -> Result<Self> {
        let (out, _) = weight.dim();
        let bias = bias.unwrap_or_else(|| Array1::zeros(out));
        if bias.len() != out {
            invalid!(
                "linear bias has {} values, the weight has {out} outputs",
                bias.len()
            );
        }
        Ok(CimLinear {
            qm: QuantMatrix::new_on(spec, weight.t(), noise, backend)?,
            bias,
            act: None,
            input_bits: spec.data.input_bits,
        })
    }

    /// Sets the input scale from sample inputs (max-abs, see `quant`).
    pub fn calibrate(&mut self, samples: ArrayView2<f32>) {
        let v: Vec<f32> = samples.iter().copied().collect();
        self.act = Some(ActQuant::calibrate(&v, self.input_bits));
    }

    pub fn act_quant(&self) -> Option<ActQuant> {
        self.act
    }

    /// The quantised, programmed weights (K = in, N = out).
    pub fn quant_matrix(&self) -> &QuantMatrix {
        &self.qm
    }

    pub fn bias(&self) -> &Array1<f32> {
        &self.bias
    }

    /// x [B, in] -> y [B, out]. An uncalibrated layer calibrates on this batch first.
    pub fn forward(&mut self, x: ArrayView2<f32>) -> Result<(Array2<f32>, LayerStats)> {
        let (_, k) = x.dim();
        if k != self.qm.shape().0 {
            invalid!(
                "linear input has {k} features, the layer takes {}",
                self.qm.shape().0
            );
        }
        if self.act.is_none() {
            self.calibrate(x);
        }
        let (mut y, stats) = self.qm.forward(x, self.act.as_ref().expect("calibrated"))?;
        for mut row in y.axis_iter_mut(Axis(0)) {
            row += &self.bias;
        }
        Ok((y, stats))
    }
}
