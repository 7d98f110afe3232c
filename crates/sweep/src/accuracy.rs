//! Accuracy of a design point for a network with weights (an imported ONNX graph): the
//! network programmed on the point's crossbars, calibrated, run bit-faithfully on the given
//! frames, and compared with its float reference (computed once per model):
//! error = max over outputs of max |crossbar - float| / max |float|.
//!
//! The detector's mAP on the stream frames is not measured here: that experiment lives with
//! the data and evaluation code, which the simulator side (this module) must not import.

use ndarray::{Array4, ArrayView4};
use nestevo_arch::ArchSpec;
use nestevo_cim::{CimError, CimNetwork, NoiseSpec};
use nestevo_model::{ModelDesc, Tensors};

/// An accuracy measure of one (design, model) pair, computed by whoever can: the bit-faithful
/// error below, or a detector's mAP in `couple` (which this module may not import, so it
/// plugs in through this trait).
pub trait Score: Send + Sync {
    /// What the score is, e.g. `error_rel` or `map50`.
    fn metric(&self) -> &str;
    /// Whether a higher score is a better design (mAP) or a worse one (an error).
    fn higher_is_better(&self) -> bool;
    /// The frames, calibration and noise in words, for the sweep's metadata.
    fn id(&self) -> String;
    /// The score of model `k` (the sweep's order) on `spec`; an error becomes the row's reason.
    fn score(&self, k: usize, desc: &ModelDesc, spec: &ArchSpec) -> Result<f64, String>;
}

/// Frames and weights for the bit-faithful runs of every model of a sweep.
pub struct Accuracy {
    pub frames: Array4<f32>,
    pub calib: Array4<f32>,
    pub noise: NoiseSpec,
    /// Per model (the sweep's order): its weights and its float outputs on `frames`.
    pub models: Vec<(Tensors, Vec<Array4<f32>>)>,
    /// Identifies frames, calibration and noise in the sweep's metadata.
    pub id: String,
}

impl Accuracy {
    /// Computes each model's float reference; the frames must fit every model.
    pub fn new(
        frames: Array4<f32>,
        calib: Array4<f32>,
        noise: NoiseSpec,
        models: &[(ModelDesc, Tensors)],
        arch: &ArchSpec,
        id: String,
    ) -> Result<Accuracy, CimError> {
        let mut out = Vec::new();
        for (d, t) in models {
            let net = CimNetwork::new(d, t, arch, &noise)?;
            let f = net.forward_float(frames.view())?;
            out.push((t.clone(), f));
        }
        Ok(Accuracy {
            frames,
            calib,
            noise,
            models: out,
            id,
        })
    }

    /// The bit-faithful error of model `k` on `spec`.
    pub fn error(&self, k: usize, desc: &ModelDesc, spec: &ArchSpec) -> Result<f64, CimError> {
        let (t, reference) = &self.models[k];
        let mut net = CimNetwork::new(desc, t, spec, &self.noise)?;
        net.calibrate(self.calib.view())?;
        let (outs, _) = net.forward_cim(self.frames.view())?;
        Ok(outs
            .iter()
            .zip(reference)
            .map(|(c, f)| relative(c.view(), f.view()))
            .fold(0.0, f64::max))
    }
}

impl Score for Accuracy {
    fn metric(&self) -> &str {
        "error_rel"
    }
    fn higher_is_better(&self) -> bool {
        false
    }
    fn id(&self) -> String {
        self.id.clone()
    }
    fn score(&self, k: usize, desc: &ModelDesc, spec: &ArchSpec) -> Result<f64, String> {
        self.error(k, desc, spec).map_err(|e| e.to_string())
    }
}

/// max |a - b| / max |b| (max |a - b| when b is all zero).
fn relative(a: ArrayView4<f32>, b: ArrayView4<f32>) -> f64 {
    let (mut d, mut m) = (0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        d = d.max((x - y).abs());
        m = m.max(y.abs());
    }
    if m > 0.0 {
        (d / m) as f64
    } else {
        d as f64
    }
}
