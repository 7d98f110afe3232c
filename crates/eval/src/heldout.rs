//! The one rule for held-out evaluation frames (SPEC section 6), used by every command that
//! reports mAP (`eval`, `cim run`, the pretrain table, the evolution loop's scores), so that the
//! same checkpoint on the same stream gives the same figure everywhere.
//!
//! Frame k of a held-out set of stream S is frame `round(k * SPACING_S * fps(S))` of stream S
//! rendered with seed `seed` (default `EVAL_SEED`): one frame every 2 s of stream time, so 300
//! frames span 10 minutes and the stream's drift (periods of 2.5 to 6 minutes) instead of a few
//! seconds of near-duplicates. Training draws stream seeds from 2^32 up (`train::frames`), so
//! every seed below 2^32 is held out. Calibration frames of a set (activation scales of a
//! crossbar run) follow the same rule with the next seed, so they are never scored.

use super::EvalError;
use nestevo_core::error::Invalid;
use nestevo_data::{Frame, Stream, StreamId};
use serde::Serialize;

/// Stream seed of the scored frames.
pub const EVAL_SEED: u64 = 0xE7A1;
/// Seconds of stream time between two held-out frames.
pub const SPACING_S: f64 = 2.0;
/// Frames scored when a command is not told otherwise: enough that the 95 % interval of
/// mAP@0.5 is a few points.
pub const DEFAULT_FRAMES: usize = 300;
/// Seeds from here up are the trainer's.
pub const TRAINING_SEEDS_FROM: u64 = 1 << 32;
/// Frames of one set rendered at once: 55 hours of stream at one every 2 s.
pub const MAX_FRAMES: usize = 100_000;
/// Bytes of RGB one set may hold in memory (every frame is rendered before it is scored).
pub const MAX_BYTES: usize = 16 << 30;

/// A held-out set: which stream, which seed, how many frames.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HeldOut {
    #[serde(serialize_with = "stream_name")]
    pub stream: StreamId,
    pub seed: u64,
    pub frames: usize,
}

fn stream_name<S: serde::Serializer>(id: &StreamId, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(id.name())
}

impl HeldOut {
    /// `frames` frames of `stream` with the evaluation seed.
    pub fn new(stream: StreamId, frames: usize) -> Self {
        HeldOut {
            stream,
            seed: EVAL_SEED,
            frames,
        }
    }

    /// `frames` calibration frames for this set: same stream and rule, the next seed.
    pub fn calibration(&self, frames: usize) -> Self {
        HeldOut {
            seed: self.seed + 1,
            frames,
            ..*self
        }
    }

    /// Another held-out seed (to see how a figure moves between scenes); refused when it is in
    /// the trainer's range or the set is empty.
    pub fn with_seed(self, seed: u64) -> Result<Self, EvalError> {
        if seed >= TRAINING_SEEDS_FROM - 1 {
            return Err(Invalid::new(
                "",
                "seed",
                seed,
                format!(
                    "held-out seeds are below 2^32 - 1 = {} (the trainer draws from 2^32 up)",
                    TRAINING_SEEDS_FROM - 1
                ),
            )
            .into());
        }
        Ok(HeldOut { seed, ..self })
    }

    /// Frame indices of the set.
    pub fn indices(&self) -> Vec<u64> {
        let step = SPACING_S * self.stream.fps();
        (0..self.frames as u64)
            .map(|k| (k as f64 * step).round() as u64)
            .collect()
    }

    /// The frames, rendered at `width` x `height` (the model's input size).
    pub fn render(&self, width: usize, height: usize) -> Result<Vec<Frame>, EvalError> {
        if self.frames == 0 {
            return Err(Invalid::new("", "frames", 0, "at least 1 frame").into());
        }
        if width < 8 || height < 8 {
            return Err(Invalid::new(
                "",
                "frame size",
                format!("{width}x{height}"),
                "the renderer draws frames of at least 8x8 pixels",
            )
            .into());
        }
        let bytes = (self.frames as u128) * (width as u128) * (height as u128) * 3;
        if self.frames > MAX_FRAMES || bytes > MAX_BYTES as u128 {
            return Err(Invalid::new(
                "",
                "frames",
                self.frames,
                format!(
                    "at most {MAX_FRAMES} frames, and at most {} GiB of {width}x{height} RGB \
                     ({} frames) rendered at once",
                    MAX_BYTES >> 30,
                    MAX_BYTES / (width * height * 3)
                ),
            )
            .into());
        }
        let s = Stream::new(self.stream, self.seed).with_size(width, height);
        Ok(self.indices().into_iter().map(|i| s.frame(i)).collect())
    }

    /// One line for reports: "300 frames of stream D (seed 59297), one every 2 s over 598 s".
    pub fn describe(&self) -> String {
        let last = self.indices().last().copied().unwrap_or(0);
        let span = Stream::new(self.stream, self.seed).time_s(last);
        format!(
            "{} frames of stream {} (seed {}), one every {SPACING_S} s over {span:.0} s",
            self.frames,
            self.stream.name(),
            self.seed
        )
    }
}
