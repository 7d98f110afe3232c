//! Detection metrics: mAP@0.5, mAP@0.75 and mAP@[.5:.95] by the COCO conventions, VOC AP beside,
//! and the COCO results format so any COCO tool can check the figures.

mod ci;
pub mod decode;
mod error;
pub mod heldout;
mod interval;
mod map;
pub mod paired;
mod results;

pub use ci::{
    blocks_of, evaluate_with_block_ci, evaluate_with_ci, mean_map50_with_block_ci,
    mean_map50_with_ci, with_ci, ScoredSet, RESAMPLES,
};
pub use error::EvalError;
pub use heldout::HeldOut;
pub use interval::{Interval, MapCi};
pub use map::{average_precision, evaluate, iou, ApKind, MapReport, IOU_THRESHOLDS, MAX_DETS};
pub use results::{coco_results, read_coco_results, write_coco_results, CocoResult};

use nestevo_data::{Frame, GtBox};

/// The ground truth of frames in the form `evaluate` takes (image id = frame index).
pub fn ground_truth(frames: &[Frame]) -> Vec<(u64, Vec<GtBox>)> {
    frames.iter().map(|f| (f.index, f.boxes.clone())).collect()
}

/// One detection in pixels, `x0 <= x1`, `y0 <= y1`, on image `image_id` (the frame index).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub image_id: u64,
    pub class: usize,
    pub score: f32,
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}
