//! The COCO results format (`[{image_id, category_id, bbox, score}]`).

use super::{Detection, EvalError};
use nestevo_core::error::{write_atomic, Invalid, IoError};
use nestevo_data::CLASSES;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CocoResult {
    pub image_id: u64,
    /// 1-based: class index + 1, as in the ground truth that `nestevo data render` writes.
    pub category_id: u64,
    /// `[x, y, width, height]` in pixels.
    pub bbox: [f32; 4],
    pub score: f32,
}

/// Detections as COCO results.
pub fn coco_results(dets: &[Detection]) -> Vec<CocoResult> {
    dets.iter()
        .map(|d| CocoResult {
            image_id: d.image_id,
            category_id: d.class as u64 + 1,
            bbox: [d.x0, d.y0, d.x1 - d.x0, d.y1 - d.y0],
            score: d.score,
        })
        .collect()
}

/// Writes detections as a COCO results file.
pub fn write_coco_results(path: &Path, dets: &[Detection]) -> Result<(), EvalError> {
    let json = serde_json::to_vec(&coco_results(dets)).expect("detections always serialise");
    Ok(write_atomic(path, &json)?)
}

/// Reads a COCO results file back into detections, checking every entry.
pub fn read_coco_results(path: &Path) -> Result<Vec<Detection>, EvalError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| IoError::new(path, "read", e))?;
    let rs: Vec<CocoResult> = serde_json::from_str(&text).map_err(|e| {
        Invalid::new(
            &file,
            "",
            e,
            "expected a COCO results list [{image_id, category_id, bbox, score}]",
        )
    })?;
    rs.iter()
        .enumerate()
        .map(|(i, r)| {
            let ok_cat = (1..=CLASSES.len() as u64).contains(&r.category_id);
            if !ok_cat {
                return Err(Invalid::new(
                    &file,
                    format!("entry {i}"),
                    format!("category_id {}", r.category_id),
                    format!("allowed 1 to {}", CLASSES.len()),
                )
                .into());
            }
            let [x, y, w, h] = r.bbox;
            let ok = [x, y, w, h, r.score].iter().all(|v| v.is_finite()) && w >= 0.0 && h >= 0.0;
            if !ok {
                return Err(Invalid::new(
                    &file,
                    format!("entry {i}"),
                    format!("bbox {:?} / score {}", r.bbox, r.score),
                    "must be finite with width, height >= 0",
                )
                .into());
            }
            Ok(Detection {
                image_id: r.image_id,
                class: (r.category_id - 1) as usize,
                score: r.score,
                x0: x,
                y0: y,
                x1: x + w,
                y1: y + h,
            })
        })
        .collect()
}
