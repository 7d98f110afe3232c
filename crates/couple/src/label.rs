//! The labelling interface: the global model (on LibTorch, or on the simulated chip) labels a
//! terminal's uploaded frames with pseudo boxes above a score threshold, its soft outputs
//! (heat-map logits, box size, centre offset: what distillation follows) and, when asked, the
//! feature map of one named layer (what the drift statistic pools). The types are plain
//! arrays so that a labeller needs no LibTorch.

use ndarray::Array3;
use nestevo_data::{Frame, GtBox};

/// A detection of the labeller, in input pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PseudoBox {
    pub class: usize,
    pub score: f32,
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

impl PseudoBox {
    /// As a training target.
    pub fn gt(&self) -> GtBox {
        GtBox {
            class: self.class,
            x0: self.x0,
            y0: self.y0,
            x1: self.x1,
            y1: self.y1,
        }
    }
}

/// The heads' raw outputs on one frame: [classes, h, w] heat-map logits, [2, h, w] box size
/// and [2, h, w] centre offset (both in output cells).
#[derive(Debug, Clone, PartialEq)]
pub struct SoftOutputs {
    pub hm: Array3<f32>,
    pub wh: Array3<f32>,
    pub off: Array3<f32>,
    /// Input pixels per output cell.
    pub stride: f32,
}

/// One layer's output on one frame, [channels, h, w], `stride` input pixels per cell.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMap {
    pub layer: String,
    pub data: Array3<f32>,
    pub stride: f32,
}

/// What a labeller returns for one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Labelled {
    /// The frame's `index`.
    pub frame: u64,
    /// Detections at or above the request's `min_score`, best first.
    pub boxes: Vec<PseudoBox>,
    pub soft: SoftOutputs,
    /// The requested layer's features, when one was requested.
    pub features: Option<FeatureMap>,
}

/// What to label with.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelRequest {
    pub min_score: f32,
    /// A layer of the labeller's model whose features to return.
    pub feature_layer: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    /// Frames or a request the labeller cannot take (wrong size, unknown layer).
    #[error("{0}")]
    BadInput(String),
    /// The labeller failed (a device error, a broken model).
    #[error("{0}")]
    Fault(String),
}

impl nestevo_core::error::Kinded for LabelError {
    fn kind(&self) -> nestevo_core::error::ErrorKind {
        match self {
            LabelError::BadInput(_) => nestevo_core::error::ErrorKind::BadInput,
            LabelError::Fault(_) => nestevo_core::error::ErrorKind::Fault,
        }
    }
}

/// Modelled time and energy of work on a simulated device (not measured wall time).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct DeviceCost {
    pub seconds: f64,
    pub energy_j: f64,
}

/// Labels frames with a trained global model.
pub trait Labeller {
    /// The labelling model and where it runs, for reports (e.g. `global on Cpu`).
    fn describe(&self) -> String;
    /// One `Labelled` per frame, in order.
    fn label(&self, frames: &[Frame], req: &LabelRequest) -> Result<Vec<Labelled>, LabelError>;
    /// The modelled device time and energy of the last `label` call, where the labeller runs
    /// on a modelled device (the loop then uses this time in place of wall time); `None` for
    /// a labeller whose time is its measured wall time.
    fn last_cost(&self) -> Option<DeviceCost> {
        None
    }
    /// The modelled cost of the last (re)programming of the model onto its device; `None`
    /// where nothing is programmed.
    fn program_cost(&self) -> Option<DeviceCost> {
        None
    }
}
