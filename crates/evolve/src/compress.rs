//! Adaptive data compression (the paper's Section 6.2, Fig. 13, Table 5, Fig. 14): before
//! training (distillation and the mutual-learning pairs), a frame whose pseudo labels hold no small object is 2x2 average-pooled and the
//! model trains on it at half the size; frames with a small object stay whole.
//!
//! The rule: a pseudo box is small when its height is below `small_px` pixels of the frame as
//! uploaded (96x96 here); a frame with no small box is pooled. A frame without any pseudo box
//! has no small object and is pooled too.
//!
//! Pooling, for an H x W frame (H, W even) and its labels at stride s (a grid of h x w cells):
//! - pixels: `p'(y, x) = round(mean of p(2y + i, 2x + j), i, j in {0, 1})`, per channel;
//! - pseudo boxes and ground truth: every coordinate halved;
//! - the teacher's soft outputs at the same stride s on the pooled frame (an h/2 x w/2 grid):
//!   per 2x2 block of cells, the heat-map logits are the block's maximum per class (the
//!   sigmoid is monotone, so this is the max-pooled probability: a peak stays a peak); the
//!   size and offset regressions are those of the block's peak cell (the cell with the largest
//!   logit over all classes) mapped to the coarser grid: the size (in cells) halves, and an
//!   object centred at fine cell `c + o` (o the offset in [0, 1)) sits at coarse position
//!   `(c + o) / 2`, so the coarse offset is `(c + o) / 2 - floor(c / 2)`;
//! - the features (drift statistics only) are dropped: training never reads them.
//!
//! The detectors are fully convolutional (`Detector` takes a 2x2-pooled input then), so a 48x48
//! frame gives a 12x12 heat-map at stride 4:
//! the pooled targets' grid. Training groups each batch by frame size (`distill`, `train_pair`).

use ndarray::Array3;
use nestevo_couple::label::{Labelled, SoftOutputs};
use nestevo_data::{Frame, GtBox};
use serde::{Deserialize, Serialize};

/// The experiment file's `[compress]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompressSpec {
    /// Pool frames without small objects before distillation and mutual learning.
    pub enabled: bool,
    /// A pseudo box lower than this (pixels of the uploaded frame) is a small object.
    pub small_px: f64,
}

impl Default for CompressSpec {
    fn default() -> Self {
        CompressSpec {
            enabled: false,
            small_px: 12.0,
        }
    }
}

/// Whether `l` holds a pseudo box lower than `small_px`.
pub fn has_small(l: &Labelled, small_px: f64) -> bool {
    l.boxes.iter().any(|b| ((b.y1 - b.y0) as f64) < small_px)
}

/// Whether the rule pools the frame labelled `l`.
pub fn pools(spec: &CompressSpec, l: &Labelled) -> bool {
    spec.enabled && !has_small(l, spec.small_px)
}

/// The frame 2x2 average-pooled, its boxes halved. `None` when a side is odd.
pub fn pool_frame(f: &Frame) -> Option<Frame> {
    let (h, w) = (f.height, f.width);
    if h % 2 != 0 || w % 2 != 0 || f.rgb.len() != h * w * 3 {
        return None;
    }
    let (h2, w2) = (h / 2, w / 2);
    let mut rgb = vec![0u8; h2 * w2 * 3];
    for y in 0..h2 {
        for x in 0..w2 {
            for c in 0..3 {
                let at = |yy: usize, xx: usize| f.rgb[(yy * w + xx) * 3 + c] as u32;
                let s = at(2 * y, 2 * x)
                    + at(2 * y, 2 * x + 1)
                    + at(2 * y + 1, 2 * x)
                    + at(2 * y + 1, 2 * x + 1);
                rgb[(y * w2 + x) * 3 + c] = ((s + 2) / 4) as u8;
            }
        }
    }
    Some(Frame {
        width: w2,
        height: h2,
        rgb,
        boxes: f.boxes.iter().map(half_gt).collect(),
        index: f.index,
        time_s: f.time_s,
    })
}

fn half_gt(g: &GtBox) -> GtBox {
    GtBox {
        class: g.class,
        x0: g.x0 / 2.0,
        y0: g.y0 / 2.0,
        x1: g.x1 / 2.0,
        y1: g.y1 / 2.0,
    }
}

/// The teacher's soft outputs for the pooled frame (see the module doc). `None` when the grid
/// has an odd side.
pub fn pool_soft(s: &SoftOutputs) -> Option<SoftOutputs> {
    let (c, h, w) = s.hm.dim();
    if h % 2 != 0 || w % 2 != 0 {
        return None;
    }
    let (h2, w2) = (h / 2, w / 2);
    let mut hm = Array3::<f32>::zeros((c, h2, w2));
    let mut wh = Array3::<f32>::zeros((2, h2, w2));
    let mut off = Array3::<f32>::zeros((2, h2, w2));
    for y in 0..h2 {
        for x in 0..w2 {
            let (mut best, mut at) = (f32::NEG_INFINITY, (2 * y, 2 * x));
            for k in 0..c {
                let mut m = f32::NEG_INFINITY;
                for (yy, xx) in block(y, x) {
                    let v = s.hm[[k, yy, xx]];
                    m = m.max(v);
                    if v > best {
                        best = v;
                        at = (yy, xx);
                    }
                }
                hm[[k, y, x]] = m;
            }
            let (yy, xx) = at;
            wh[[0, y, x]] = s.wh[[0, yy, xx]] / 2.0;
            wh[[1, y, x]] = s.wh[[1, yy, xx]] / 2.0;
            off[[0, y, x]] = (xx as f32 + s.off[[0, yy, xx]]) / 2.0 - x as f32;
            off[[1, y, x]] = (yy as f32 + s.off[[1, yy, xx]]) / 2.0 - y as f32;
        }
    }
    Some(SoftOutputs {
        hm,
        wh,
        off,
        stride: s.stride,
    })
}

fn block(y: usize, x: usize) -> [(usize, usize); 4] {
    [
        (2 * y, 2 * x),
        (2 * y, 2 * x + 1),
        (2 * y + 1, 2 * x),
        (2 * y + 1, 2 * x + 1),
    ]
}

/// The labels of the pooled frame: boxes halved, soft outputs pooled, no features.
pub fn pool_label(l: &Labelled) -> Option<Labelled> {
    let mut boxes = l.boxes.clone();
    for b in &mut boxes {
        b.x0 /= 2.0;
        b.y0 /= 2.0;
        b.x1 /= 2.0;
        b.y1 /= 2.0;
    }
    Some(Labelled {
        frame: l.frame,
        boxes,
        soft: pool_soft(&l.soft)?,
        features: None,
    })
}

/// What compression did to a job's frames.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Compressed {
    pub frames: usize,
    pub pooled: usize,
}

impl Compressed {
    /// Share of the frames kept whole.
    pub fn whole_share(&self) -> f64 {
        if self.frames == 0 {
            1.0
        } else {
            (self.frames - self.pooled) as f64 / self.frames as f64
        }
    }
}

/// The training set after the rule: each frame pooled (with its labels) where `spec` says so
/// and its sides allow, else as it was.
pub fn compress(
    spec: &CompressSpec,
    frames: &[Frame],
    labels: &[Labelled],
) -> (Vec<Frame>, Vec<Labelled>, Compressed) {
    let mut fs = Vec::with_capacity(frames.len());
    let mut ls = Vec::with_capacity(labels.len());
    let mut pooled = 0;
    for (f, l) in frames.iter().zip(labels) {
        let p = if pools(spec, l) {
            pool_frame(f).zip(pool_label(l))
        } else {
            None
        };
        match p {
            Some((pf, pl)) => {
                pooled += 1;
                fs.push(pf);
                ls.push(pl);
            }
            None => {
                fs.push(f.clone());
                ls.push(l.clone());
            }
        }
    }
    (
        fs,
        ls,
        Compressed {
            frames: frames.len(),
            pooled,
        },
    )
}
