//! A stand-in for the house's held-out frame rule and bootstrap (`eval::heldout`, coming on
//! main), kept separate so that it can be dropped when that lands.
//!
//! Frames: `seeds` stream seeds from `SEED_BASE` (far from the training pool's seeds, which
//! start at 2^32, and from the small seeds `data render` uses), and on each seed `per_seed`
//! frames spread evenly over the first `span_s` seconds of the stream (the drift's periods are
//! 2.5 to 6 minutes, so ten minutes see its phases). Frames are renumbered 0.. so image ids
//! are unique across seeds.
//!
//! Confidence interval: percentile bootstrap over frames. COCO matching is per frame and
//! class, so each frame's (score, true positive) pairs at IoU 0.5 are computed once; a
//! resample draws frames with replacement, pools their pairs and ground-truth counts and
//! computes COCO's 101-point AP per class, then the mean over classes with ground truth.

use crate::data::{Frame, GtBox, Stream, StreamId, CLASSES};
use crate::eval::{average_precision, iou, ApKind, Detection, MAX_DETS};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// First held-out stream seed.
pub const SEED_BASE: u64 = 0x5EED_0000;

/// `seeds` x `per_seed` frames of stream `id`, spread over `span_s` seconds of each seed.
pub fn heldout_frames(id: StreamId, seeds: usize, per_seed: usize, span_s: f64) -> Vec<Frame> {
    let mut out = Vec::with_capacity(seeds * per_seed);
    for s in 0..seeds as u64 {
        let st = Stream::new(id, SEED_BASE + s);
        let last = (span_s * st.fps()).floor() as u64;
        for k in 0..per_seed as u64 {
            let i = k * last / per_seed.max(1) as u64;
            let mut f = st.frame(i);
            f.index = out.len() as u64;
            out.push(f);
        }
    }
    out
}

/// mAP@0.5 with its 95 % bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MapCi {
    pub map50: f64,
    pub lo: f64,
    pub hi: f64,
    pub frames: usize,
    pub resamples: usize,
}

/// One frame's matched detections per class, and its ground-truth counts.
struct FrameMatches {
    pairs: Vec<Vec<(f32, bool)>>,
    n_gt: Vec<usize>,
}

fn match_frame(gt: &[GtBox], dets: &[&Detection]) -> FrameMatches {
    let nc = CLASSES.len();
    let mut pairs = vec![Vec::new(); nc];
    let mut n_gt = vec![0; nc];
    for c in 0..nc {
        let g: Vec<&GtBox> = gt.iter().filter(|b| b.class == c).collect();
        n_gt[c] = g.len();
        let mut d: Vec<&Detection> = dets.iter().copied().filter(|d| d.class == c).collect();
        d.sort_by(|a, b| b.score.total_cmp(&a.score));
        d.truncate(MAX_DETS);
        let mut taken = vec![false; g.len()];
        for det in d {
            let mut best = 0.5f64.min(1.0 - 1e-10);
            let mut m = None;
            for (k, b) in g.iter().enumerate() {
                let o = iou([det.x0, det.y0, det.x1, det.y1], [b.x0, b.y0, b.x1, b.y1]);
                if taken[k] || o < best {
                    continue;
                }
                best = o;
                m = Some(k);
            }
            if let Some(k) = m {
                taken[k] = true;
            }
            pairs[c].push((det.score, m.is_some()));
        }
    }
    FrameMatches { pairs, n_gt }
}

fn map50_of(frames: &[FrameMatches], draw: &[usize]) -> f64 {
    let nc = CLASSES.len();
    let mut aps = Vec::new();
    for c in 0..nc {
        let n: usize = draw.iter().map(|&i| frames[i].n_gt[c]).sum();
        if n == 0 {
            continue;
        }
        let mut p: Vec<(f32, bool)> = draw
            .iter()
            .flat_map(|&i| frames[i].pairs[c].iter().copied())
            .collect();
        p.sort_by(|a, b| b.0.total_cmp(&a.0));
        let flags: Vec<bool> = p.iter().map(|x| x.1).collect();
        aps.push(average_precision(ApKind::Coco101, &flags, n));
    }
    if aps.is_empty() {
        0.0
    } else {
        aps.iter().sum::<f64>() / aps.len() as f64
    }
}

/// mAP@0.5 of `dets` on `frames` (image id = frame index) with a percentile bootstrap over
/// frames of `resamples` draws, seeded.
pub fn map50_ci(frames: &[Frame], dets: &[Detection], resamples: usize, seed: u64) -> MapCi {
    let mut by_frame: std::collections::HashMap<u64, Vec<&Detection>> = Default::default();
    for d in dets {
        by_frame.entry(d.image_id).or_default().push(d);
    }
    let matches: Vec<FrameMatches> = frames
        .iter()
        .map(|f| match_frame(&f.boxes, by_frame.get(&f.index).map_or(&[][..], |v| v)))
        .collect();
    let all: Vec<usize> = (0..frames.len()).collect();
    let map50 = map50_of(&matches, &all);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut stats: Vec<f64> = (0..resamples)
        .map(|_| {
            let draw: Vec<usize> = (0..frames.len())
                .map(|_| rng.gen_range(0..frames.len().max(1)))
                .collect();
            map50_of(&matches, &draw)
        })
        .collect();
    stats.sort_by(f64::total_cmp);
    let q = |p: f64| {
        if stats.is_empty() {
            map50
        } else {
            stats[((p * (stats.len() - 1) as f64).round() as usize).min(stats.len() - 1)]
        }
    };
    MapCi {
        map50,
        lo: q(0.025),
        hi: q(0.975),
        frames: frames.len(),
        resamples,
    }
}
