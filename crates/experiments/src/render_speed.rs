//! How fast the renderer draws each stream, on one thread (`nestevo data speed`).

use nestevo_data::size::check_size;
use nestevo_data::{DataError, Stream, StreamId};
use serde::Serialize;
use std::time::Instant;

/// One stream's rendering speed.
#[derive(Debug, Clone, Serialize)]
pub struct SpeedRow {
    pub stream: &'static str,
    pub frames: u64,
    pub seconds: f64,
    pub frames_per_s: f64,
    pub boxes_per_frame: f64,
}

/// Renders `frames` frames of every stream at `size` x `size` and times each stream.
pub fn render_speed(frames: u64, size: usize) -> Result<Vec<SpeedRow>, DataError> {
    nestevo_core::check!(frames > 0, "--frames must be at least 1");
    check_size(size)?;
    let mut rows = Vec::new();
    for id in StreamId::ALL {
        let s = Stream::new(id, 0).with_size(size, size);
        let t0 = Instant::now();
        let mut boxes = 0usize;
        for i in 0..frames {
            // Frames spread over the first hour, as a trainer samples them.
            boxes += s.frame((i * 7919) % 108_000).boxes.len();
        }
        let dt = t0.elapsed().as_secs_f64();
        rows.push(SpeedRow {
            stream: id.name(),
            frames,
            seconds: dt,
            frames_per_s: frames as f64 / dt,
            boxes_per_frame: boxes as f64 / frames as f64,
        });
    }
    Ok(rows)
}
