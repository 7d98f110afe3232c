//! Running a detector over frames and scoring it with the project's mAP.

use super::decode::{decode, DecodeConfig};
use super::detector::Detector;
use super::error::Result;
use nestevo_data::Frame;
use nestevo_eval::{evaluate_with_ci, ground_truth, Detection, MapReport};

/// Detections on `frames` (image id = frame index), in batches of `batch`.
pub fn predict(model: &Detector, frames: &[Frame], batch: usize) -> Result<Vec<Detection>> {
    let [_, h, w] = model.input_chw();
    let cfg = DecodeConfig {
        stride: model.stride,
        ..Default::default()
    };
    let _guard = tch::no_grad_guard();
    let mut dets = Vec::new();
    for chunk in frames.chunks(batch.max(1)) {
        for f in chunk {
            f.check_size(&model.desc.name, model.desc.input)?;
        }
        let rgb: Vec<&[u8]> = chunk.iter().map(|f| f.rgb.as_slice()).collect();
        let out = model.forward(&model.batch_from_rgb(&rgb), false)?;
        let ids: Vec<u64> = chunk.iter().map(|f| f.index).collect();
        dets.extend(decode(&out, &ids, (h, w), &cfg));
    }
    Ok(dets)
}

/// mAP of `model` on labelled `frames`, with its 95 % bootstrap interval over frames.
pub fn evaluate_frames(model: &Detector, frames: &[Frame]) -> Result<(MapReport, Vec<Detection>)> {
    let dets = predict(model, frames, 64)?;
    Ok((evaluate_with_ci(&ground_truth(frames), &dets), dets))
}
