//! The streams of the paper (A-E) and the pretraining source domain, as seeded specs.

use super::scene::{self, Domain};
use super::{Drift, Frame};
use std::fmt;
use std::str::FromStr;

/// The streams: the pretraining source and the paper's terminals A-E (SPEC section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamId {
    Source,
    A,
    B,
    C,
    D,
    E,
    F,
}

impl StreamId {
    pub const ALL: [StreamId; 7] = [
        StreamId::Source,
        StreamId::A,
        StreamId::B,
        StreamId::C,
        StreamId::D,
        StreamId::E,
        StreamId::F,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StreamId::Source => "source",
            StreamId::A => "A",
            StreamId::B => "B",
            StreamId::C => "C",
            StreamId::D => "D",
            StreamId::E => "E",
            StreamId::F => "F",
        }
    }

    pub fn fps(self) -> f64 {
        match self {
            StreamId::B => 20.0,
            StreamId::C => 10.0,
            _ => 30.0,
        }
    }

    pub fn domain(self) -> Domain {
        match self {
            StreamId::Source => Domain::Source,
            StreamId::A | StreamId::B | StreamId::C => Domain::CampusDay,
            StreamId::D => Domain::RuralDay,
            StreamId::E => Domain::CampusNight,
            StreamId::F => Domain::CampusFog,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            StreamId::Source => "source domain: varied campus scenes by day, 30 fps",
            StreamId::A => "campus day, 30 fps",
            StreamId::B => "campus day, 20 fps (stream A's scene)",
            StreamId::C => "campus day, 10 fps (stream A's scene)",
            StreamId::D => "rural day, 30 fps",
            StreamId::E => "campus night, 30 fps",
            StreamId::F => "campus fog, 30 fps",
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for StreamId {
    type Err = super::DataError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        for id in StreamId::ALL {
            if id.name().eq_ignore_ascii_case(s) {
                return Ok(id);
            }
        }
        nestevo_core::invalid!("unknown stream `{s}`: allowed are source, A, B, C, D, E, F")
    }
}

/// Everything that fixes a stream's frames.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSpec {
    pub id: StreamId,
    pub fps: f64,
    pub domain: Domain,
    pub width: usize,
    pub height: usize,
    pub seed: u64,
}

/// A deterministic, randomly accessible video stream.
#[derive(Debug, Clone)]
pub struct Stream {
    spec: StreamSpec,
    scene: scene::Scene,
}

/// Ticks per second of the common time base: a multiple of 30, 20 and 10 fps, so that stream
/// C's frame i is exactly stream A's frame 3i.
const TICKS_PER_S: u64 = 60;

impl Stream {
    /// Default size is 96x96 pixels.
    pub fn new(id: StreamId, seed: u64) -> Self {
        Self::from_spec(StreamSpec {
            id,
            fps: id.fps(),
            domain: id.domain(),
            width: 96,
            height: 96,
            seed,
        })
    }

    pub fn from_spec(spec: StreamSpec) -> Self {
        // A, B and C share one scene (the same camera at different rates), so the scene seed
        // depends on the domain, not on the stream.
        let scene = scene::Scene::new(spec.domain, spec.seed);
        Stream { spec, scene }
    }

    /// Renders at another size; the scene scales with the frame (object sizes are relative).
    /// Panics below 8x8 pixels (callers validate user input first, as `nestevo data` does).
    pub fn with_size(mut self, width: usize, height: usize) -> Self {
        assert!(
            width >= 8 && height >= 8,
            "frames must be at least 8x8 pixels"
        );
        self.spec.width = width;
        self.spec.height = height;
        self
    }

    pub fn spec(&self) -> &StreamSpec {
        &self.spec
    }

    pub fn fps(&self) -> f64 {
        self.spec.fps
    }

    pub fn id(&self) -> StreamId {
        self.spec.id
    }

    /// Seconds since the start of the stream at frame `i`.
    pub fn time_s(&self, i: u64) -> f64 {
        let per_frame = TICKS_PER_S as f64 / self.spec.fps;
        if per_frame >= 1.0 && (per_frame - per_frame.round()).abs() < 1e-9 {
            (i * per_frame.round() as u64) as f64 / TICKS_PER_S as f64
        } else {
            i as f64 / self.spec.fps
        }
    }

    /// The slowly drifting conditions at frame `i`.
    pub fn drift(&self, i: u64) -> Drift {
        self.scene.drift(self.time_s(i))
    }

    /// Frame `i`: a pure function of (spec, i), a fraction of a millisecond at 96x96.
    pub fn frame(&self, i: u64) -> Frame {
        let t = self.time_s(i);
        let (rgb, boxes) = self.scene.render(t, self.spec.width, self.spec.height);
        Frame {
            width: self.spec.width,
            height: self.spec.height,
            rgb,
            boxes,
            index: i,
            time_s: t,
        }
    }
}
