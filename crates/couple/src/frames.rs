//! Frames to the float tensors a network takes.

use ndarray::Array4;
use nestevo_data::{DataError, Frame};

/// Frames (RGB u8, H*W*3 each) to a [B, 3, H, W] batch in [0, 1], as the trainer's input; every
/// frame must fit the model's `[C, H, W]`.
pub fn batch_from_frames(
    frames: &[Frame],
    model: &str,
    chw: [usize; 3],
) -> Result<Array4<f32>, DataError> {
    for f in frames {
        f.check_size(model, chw)?;
    }
    let [c, h, w] = chw;
    Ok(Array4::from_shape_fn(
        (frames.len(), c, h, w),
        |(n, ch, y, x)| frames[n].rgb[(y * w + x) * 3 + ch] as f32 / 255.0,
    ))
}
