//! Rendered drifting video streams with ground truth, and reading a user's frames.
//!
//! Real driving video cannot be downloaded here, so the project renders its own: a deterministic
//! function of (stream, seed, frame index), cheap enough to render on the fly while training.
//! See `docs/data.md` for the look of each stream and the rendering speed
//! (`nestevo_experiments::render_speed`).
//!
//! Inside, every arrow points down this list (each file imports only files above it, and the
//! shared types defined here: `CLASSES`, `GtBox`, `Drift`, `Frame`): error, rng, draw; look;
//! backdrop, objects; scene (also `Domain`); stream; coco, sheet, npy; io, size; source.

mod backdrop;
mod coco;
mod draw;
mod error;
mod io;
mod look;
pub mod npy;
mod objects;
mod rng;
mod scene;
mod sheet;
pub mod size;
mod source;
mod stream;

pub use coco::{coco_ground_truth, CocoAnnotation, CocoCategory, CocoGroundTruth, CocoImage};
pub use error::DataError;
pub use io::{
    decode_png, encode_png, export_frames, frame_file_name, read_frames_dir, read_png, write_png,
    ExportSummary, ANNOTATIONS,
};
pub use scene::Domain;
pub use sheet::contact_sheet;
pub use source::{Folder, FrameSource};
pub use stream::{Stream, StreamId, StreamSpec};

/// Object classes, in the order of the class index everywhere (COCO category id = index + 1).
pub const CLASSES: [&str; 4] = ["person", "car", "bicycle", "dog"];

/// A ground-truth box in pixels: `x0 <= x1`, `y0 <= y1`, the box spans `[x0, x1) x [y0, y1)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GtBox {
    pub class: usize,
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

impl GtBox {
    pub fn width(&self) -> f32 {
        self.x1 - self.x0
    }
    pub fn height(&self) -> f32 {
        self.y1 - self.y0
    }
    pub fn area(&self) -> f32 {
        self.width().max(0.0) * self.height().max(0.0)
    }
}

/// A stream's slowly drifting conditions at one moment (periods of 2.5 to 6 minutes).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Drift {
    /// Overall light gain (1 = nominal day; about 0.35 at night).
    pub light: f32,
    /// Probability that a clutter site (tree, lamp, bench, fence...) is occupied.
    pub clutter: f32,
    /// Probability that an object slot holds an object.
    pub density: f32,
    /// Probability of each class for a new object, in `CLASSES` order.
    pub class_mix: [f32; 4],
}

/// One video frame: 8-bit RGB, row-major `H*W*3`, with its ground truth (empty when unlabelled).
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
    pub boxes: Vec<GtBox>,
    /// Frame number within its stream (or the image id of a folder's COCO labels).
    pub index: u64,
    /// Seconds since the stream started.
    pub time_s: f64,
}

impl Frame {
    /// Whether the frame fits a model's `[C, H, W]` input; the one frame-size check of the
    /// project (the trainer, the crossbar runner and the evaluators all call it).
    pub fn check_size(&self, model: &str, [c, h, w]: [usize; 3]) -> Result<(), DataError> {
        nestevo_core::check!(
            c == 3,
            "model {model} takes {c} input channels; frames are RGB (3)"
        );
        nestevo_core::check!(
            self.width == w && self.height == h && self.rgb.len() == h * w * 3,
            "model {model}: frame {} is {}x{}, the model takes {w}x{h}",
            self.index,
            self.width,
            self.height
        );
        Ok(())
    }
}
