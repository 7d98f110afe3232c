//! Where a terminal's frames come from: a rendered stream (A-E) or a user's folder of frames.
//!
//! Both are randomly accessible by frame number and carry a clock (fps), so the evolution loop
//! and the HTTP terminal cut windows out of either the same way. A folder is read once
//! (`read_frames_dir`: PNGs with an optional COCO `annotations.json`); its frame `i` is the
//! `i`-th image (in image-id order when labelled, else in file-name order), renumbered `i` and
//! timed `i / fps`. A rendered stream is endless; a folder ends, and asking past its end is an
//! error that names the folder, the frame asked for and how many it holds.

use super::error::Result;
use super::io::read_frames_dir;
use super::stream::{Stream, StreamId};
use super::Frame;
use nestevo_core::check;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A user's folder of frames with its clock.
#[derive(Debug, Clone)]
pub struct Folder {
    dir: PathBuf,
    frames: Arc<Vec<Frame>>,
    fps: f64,
    labelled: bool,
}

/// A terminal's frames.
#[derive(Debug, Clone)]
pub enum FrameSource {
    Rendered(Stream),
    Folder(Folder),
}

impl Folder {
    /// Reads `dir` (see `read_frames_dir`); `fps` is the folder's clock.
    pub fn read(dir: &Path, fps: f64) -> Result<Folder> {
        check!(
            fps.is_finite() && fps > 0.0 && fps <= 1000.0,
            "{}: fps {fps}: allowed is above 0 and at most 1000 frames per second",
            dir.display()
        );
        let mut frames = read_frames_dir(dir)?;
        let labelled = dir.join(super::io::ANNOTATIONS).is_file();
        for (i, f) in frames.iter_mut().enumerate() {
            f.index = i as u64;
            f.time_s = i as f64 / fps;
        }
        Ok(Folder {
            dir: dir.to_path_buf(),
            frames: Arc::new(frames),
            fps,
            labelled,
        })
    }

    pub fn len(&self) -> u64 {
        self.frames.len() as u64
    }

    /// Never true: `read_frames_dir` refuses an empty folder.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Whether the folder has ground truth (`annotations.json`).
    pub fn labelled(&self) -> bool {
        self.labelled
    }
}

impl FrameSource {
    pub fn rendered(id: StreamId, seed: u64) -> FrameSource {
        FrameSource::Rendered(Stream::new(id, seed))
    }

    pub fn fps(&self) -> f64 {
        match self {
            FrameSource::Rendered(s) => s.fps(),
            FrameSource::Folder(f) => f.fps,
        }
    }

    /// Frames available: `None` for an endless rendered stream.
    pub fn frames(&self) -> Option<u64> {
        match self {
            FrameSource::Rendered(_) => None,
            FrameSource::Folder(f) => Some(f.len()),
        }
    }

    /// Whether every frame carries its ground truth (always for a rendered stream).
    pub fn labelled(&self) -> bool {
        match self {
            FrameSource::Rendered(_) => true,
            FrameSource::Folder(f) => f.labelled,
        }
    }

    /// Seconds since the start at frame `i`.
    pub fn time_s(&self, i: u64) -> f64 {
        match self {
            FrameSource::Rendered(s) => s.time_s(i),
            FrameSource::Folder(f) => i as f64 / f.fps,
        }
    }

    /// Frame `i`; past a folder's end, an error naming the folder.
    pub fn frame(&self, i: u64) -> Result<Frame> {
        match self {
            FrameSource::Rendered(s) => Ok(s.frame(i)),
            FrameSource::Folder(f) => {
                check!(
                    i < f.len(),
                    "{}: frame {i} asked for, but the folder holds {} frames (0 to {})",
                    f.dir.display(),
                    f.len(),
                    f.len().saturating_sub(1)
                );
                Ok(f.frames[i as usize].clone())
            }
        }
    }
}
