//! 95 % confidence intervals of mAP by the bootstrap over images (frames).
//!
//! A resample draws as many images as were scored, uniformly with replacement; the figures of
//! each resample are computed exactly as `evaluate` computes them, with every drawn image
//! counted as often as it was drawn (matching never looks across images, so the per-image
//! matching is done once). The interval is the 2.5th and 97.5th percentile of `RESAMPLES`
//! resamples (the percentile bootstrap), seeded, so the same frames give the same interval.
//! Frames of one video are not independent: the held-out rule (`heldout`) spaces them seconds
//! apart, which is why the interval is over frames and not over boxes.
//!
//! Frames closer than an object's life on screen (4-9 s on the rendered streams) share their
//! objects, so resampling them one by one makes intervals too narrow. The block bootstrap
//! (`evaluate_with_block_ci`, `mean_map50_with_block_ci`) resamples stretches of stream
//! instead: the frames are grouped into blocks (`blocks_of`: consecutive stretches of
//! `block_s` seconds), a resample draws as many blocks as there are, uniformly with
//! replacement, and counts every frame of a drawn block once per draw. With one frame per
//! block it is the per-frame bootstrap above, draw for draw.

use super::interval::{Interval, MapCi};
use super::map::Matched;
use super::{Detection, MapReport};
use nestevo_data::GtBox;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Bootstrap resamples per interval.
pub const RESAMPLES: usize = 1000;

/// Seed of the resampling, fixed so that an interval is a function of the frames alone.
const BOOTSTRAP_SEED: u64 = 0xB007;

/// `evaluate` with the 95 % bootstrap intervals filled in (`MapReport::ci95`).
pub fn evaluate_with_ci(gt: &[(u64, Vec<GtBox>)], dets: &[Detection]) -> MapReport {
    let m = Matched::new(gt, dets);
    let mut r = m.report(None);
    let each: Vec<usize> = (0..m.images()).collect();
    r.ci95 = Some(bootstrap(&m, &each, RESAMPLES));
    r
}

/// `evaluate` with block-bootstrap intervals: `blocks[i]` is the block of `gt[i]`'s image
/// (e.g. `blocks_of` its time); see the module doc.
pub fn evaluate_with_block_ci(
    gt: &[(u64, Vec<GtBox>)],
    dets: &[Detection],
    blocks: &[usize],
) -> MapReport {
    let m = Matched::new(gt, dets);
    let mut r = m.report(None);
    r.ci95 = Some(bootstrap(&m, &dense_blocks(gt, dets, blocks), RESAMPLES));
    r
}

/// The block of each time: `floor(t / block_s)`, so consecutive stretches of `block_s`
/// seconds.
pub fn blocks_of(times_s: &[f64], block_s: f64) -> Vec<usize> {
    times_s
        .iter()
        .map(|t| (t / block_s).floor().max(0.0) as usize)
        .collect()
}

/// The blocks of `Matched`'s images (sorted by image id) numbered 0.., from `blocks` given in
/// `gt`'s order; an image with detections but no ground-truth entry is a block of its own.
fn dense_blocks(gt: &[(u64, Vec<GtBox>)], dets: &[Detection], blocks: &[usize]) -> Vec<usize> {
    use std::collections::{BTreeMap, HashMap};
    assert_eq!(gt.len(), blocks.len(), "one block per ground-truth image");
    let mut of: BTreeMap<u64, Option<usize>> = gt
        .iter()
        .zip(blocks)
        .map(|(g, &b)| (g.0, Some(b)))
        .collect();
    for d in dets {
        of.entry(d.image_id).or_insert(None);
    }
    let mut names: HashMap<usize, usize> = HashMap::new();
    let mut out = Vec::with_capacity(of.len());
    for b in of.values() {
        let next = names.len();
        let id = match b {
            Some(b) => *names.entry(*b).or_insert(next),
            None => {
                // A block of its own, named past any the given blocks can take.
                let k = names.len();
                names.insert(usize::MAX - k, k);
                k
            }
        };
        out.push(id);
    }
    out
}

/// Percentile intervals of `resamples` block resamples; `block[i]` is image i's block
/// (numbered 0..).
fn bootstrap(m: &Matched, block: &[usize], resamples: usize) -> MapCi {
    let n = m.images();
    let nb = block.iter().max().map_or(0, |b| b + 1);
    let mut rng = ChaCha8Rng::seed_from_u64(BOOTSTRAP_SEED);
    // The draws in sequence (so the resamples are those of one seeded stream), the figures of
    // the resamples over the threads, kept in draw order.
    let weights: Vec<Vec<u32>> = (0..resamples)
        .map(|_| {
            let mut drawn = vec![0u32; nb];
            for _ in 0..nb {
                drawn[rng.gen_range(0..nb)] += 1;
            }
            block.iter().map(|&b| drawn[b]).collect()
        })
        .collect();
    debug_assert!(weights.iter().all(|w| w.len() == n));
    let figures: Vec<[f64; 4]> = weights
        .par_iter()
        .map(|w| {
            let r = m.report(Some(w));
            [r.map50, r.map75, r.map, r.map50_voc]
        })
        .collect();
    let mut cols: [Vec<f64>; 4] = Default::default();
    for f in figures {
        for (c, v) in cols.iter_mut().zip(f) {
            c.push(v);
        }
    }
    let [a, b, c, d] = cols.map(percentile_interval);
    MapCi {
        map50: a,
        map75: b,
        map: c,
        map50_voc: d,
    }
}

/// One evaluation set: ground truth per image and the detections on it.
pub type ScoredSet<'a> = (&'a [(u64, Vec<GtBox>)], &'a [Detection]);

/// The mean mAP@0.5 over several evaluation sets (e.g. one per terminal, each on its own
/// frames) with its 95 % interval: every resample redraws each set's images independently
/// (the sets are independent), and the interval is the percentile interval of the resampled
/// means.
pub fn mean_map50_with_ci(sets: &[ScoredSet<'_>]) -> (f64, Interval) {
    let matched: Vec<Matched> = sets.iter().map(|(g, d)| Matched::new(g, d)).collect();
    let each: Vec<Vec<usize>> = matched.iter().map(|m| (0..m.images()).collect()).collect();
    mean_with_blocks(&matched, &each)
}

/// `mean_map50_with_ci` with the block bootstrap inside each set: `blocks[s][i]` is the block
/// of `sets[s]`'s i-th ground-truth image.
pub fn mean_map50_with_block_ci(sets: &[ScoredSet<'_>], blocks: &[Vec<usize>]) -> (f64, Interval) {
    assert_eq!(sets.len(), blocks.len(), "blocks for every set");
    let matched: Vec<Matched> = sets.iter().map(|(g, d)| Matched::new(g, d)).collect();
    let dense: Vec<Vec<usize>> = sets
        .iter()
        .zip(blocks)
        .map(|((g, d), b)| dense_blocks(g, d, b))
        .collect();
    mean_with_blocks(&matched, &dense)
}

fn mean_with_blocks(matched: &[Matched], blocks: &[Vec<usize>]) -> (f64, Interval) {
    if matched.is_empty() {
        return (0.0, Interval { lo: 0.0, hi: 0.0 });
    }
    let k = matched.len() as f64;
    let mean = matched.iter().map(|m| m.report(None).map50).sum::<f64>() / k;
    let mut rng = ChaCha8Rng::seed_from_u64(BOOTSTRAP_SEED);
    // Draws in sequence (set by set within a resample, as one seeded stream), figures over the
    // threads in draw order.
    let draws: Vec<Vec<Vec<u32>>> = (0..RESAMPLES)
        .map(|_| {
            blocks
                .iter()
                .map(|block| {
                    let nb = block.iter().max().map_or(0, |b| b + 1);
                    let mut drawn = vec![0u32; nb];
                    for _ in 0..nb {
                        drawn[rng.gen_range(0..nb)] += 1;
                    }
                    block.iter().map(|&b| drawn[b]).collect()
                })
                .collect()
        })
        .collect();
    let means: Vec<f64> = draws
        .par_iter()
        .map(|ws| {
            let mut sum = 0.0;
            for (m, w) in matched.iter().zip(ws) {
                sum += m.report(Some(w)).map50;
            }
            sum / k
        })
        .collect();
    (mean, percentile_interval(means))
}

/// The 2.5th and 97.5th percentiles (nearest rank) of `v`; a point interval at 0 when empty.
fn percentile_interval(mut v: Vec<f64>) -> Interval {
    if v.is_empty() {
        return Interval { lo: 0.0, hi: 0.0 };
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    Interval {
        lo: at(0.025),
        hi: at(0.975),
    }
}

/// "0.8526 [0.8101, 0.8893]": a figure and its 95 % interval, as every table prints them.
pub fn with_ci(v: f64, ci: Option<Interval>) -> String {
    match ci {
        Some(c) => format!("{v:.4} [{:.4}, {:.4}]", c.lo, c.hi),
        None => format!("{v:.4}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(i: u64) -> (u64, Vec<GtBox>) {
        (
            i,
            vec![GtBox {
                class: 0,
                x0: 10.0,
                y0: 10.0,
                x1: 30.0,
                y1: 30.0,
            }],
        )
    }

    /// 40 frames, one object each; the first 20 (block 0) found exactly, the last 20 (block 1)
    /// missed. Two blocks: a resample is both blocks (mAP 0.505 by the 101-point rule), block 0
    /// twice (1.0) or block 1 twice (0.0), the latter two a quarter of the time each, so the
    /// 95 % interval is exactly [0, 1]. Frame by frame the same data give a narrow interval.
    #[test]
    fn block_bootstrap_by_hand() {
        let gt: Vec<_> = (0..40).map(boxed).collect();
        let dets: Vec<Detection> = (0..20)
            .map(|i| Detection {
                image_id: i,
                class: 0,
                score: 0.9,
                x0: 10.0,
                y0: 10.0,
                x1: 30.0,
                y1: 30.0,
            })
            .collect();
        let times: Vec<f64> = (0..40).map(|i| i as f64 * 0.5).collect();
        let blocks = blocks_of(&times, 10.0);
        assert_eq!(blocks[19], 0);
        assert_eq!(blocks[20], 1);
        let r = evaluate_with_block_ci(&gt, &dets, &blocks);
        assert!((r.map50 - 51.0 / 101.0).abs() < 1e-9, "{}", r.map50);
        let ci = r.ci95.unwrap().map50;
        assert_eq!((ci.lo, ci.hi), (0.0, 1.0));
        let frame = evaluate_with_ci(&gt, &dets).ci95.unwrap().map50;
        assert!(frame.lo > 0.2 && frame.hi < 0.8, "{frame:?}");
        // One frame per block is the per-frame bootstrap, draw for draw.
        let each: Vec<usize> = (0..40).collect();
        assert_eq!(
            evaluate_with_block_ci(&gt, &dets, &each)
                .ci95
                .unwrap()
                .map50,
            frame
        );
        let sets = [(gt.as_slice(), dets.as_slice())];
        assert_eq!(
            mean_map50_with_block_ci(&sets, &[each]).1,
            mean_map50_with_ci(&sets).1
        );
        assert_eq!(mean_map50_with_block_ci(&sets, &[blocks]).1, ci);
    }

    /// A resample's figures (images counted as drawn, pooled ranking placed from the ranking of
    /// each image once) equal those of the data with every drawn image copied as often as it
    /// was drawn, scored plainly; scores from a few values so that ties are common, within an
    /// image and across images.
    #[test]
    fn weighted_report_equals_the_copied_images() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let scores = [0.3f32, 0.5, 0.7, 0.9];
        let bx = |rng: &mut ChaCha8Rng| {
            let (x, y) = (rng.gen_range(0.0..60.0f32), rng.gen_range(0.0..60.0f32));
            let s = rng.gen_range(8.0..20.0f32);
            [x, y, x + s, y + s]
        };
        let (mut gt, mut dets) = (Vec::new(), Vec::new());
        for i in 0..30u64 {
            let mut boxes = Vec::new();
            for _ in 0..rng.gen_range(0..4) {
                let [x0, y0, x1, y1] = bx(&mut rng);
                boxes.push(GtBox {
                    class: rng.gen_range(0..2),
                    x0,
                    y0,
                    x1,
                    y1,
                });
            }
            for g in &boxes {
                if rng.gen_bool(0.7) {
                    let mut j = || rng.gen_range(-3.0..3.0f32);
                    let (a, b) = (j(), j());
                    dets.push(Detection {
                        image_id: i,
                        class: g.class,
                        score: scores[rng.gen_range(0..4)],
                        x0: g.x0 + a,
                        y0: g.y0 + b,
                        x1: g.x1 + a,
                        y1: g.y1 + b,
                    });
                }
            }
            for _ in 0..rng.gen_range(0..3) {
                let [x0, y0, x1, y1] = bx(&mut rng);
                dets.push(Detection {
                    image_id: i,
                    class: rng.gen_range(0..2),
                    score: scores[rng.gen_range(0..4)],
                    x0,
                    y0,
                    x1,
                    y1,
                });
            }
            gt.push((i, boxes));
        }
        let m = Matched::new(&gt, &dets);
        for _ in 0..20 {
            let w: Vec<u32> = (0..gt.len()).map(|_| rng.gen_range(0..4)).collect();
            // Copy j of image i gets id i * 10 + j: ascending ids keep image, then copy order.
            let (mut g2, mut d2) = (Vec::new(), Vec::new());
            for (i, (id, boxes)) in gt.iter().enumerate() {
                for j in 0..w[i] as u64 {
                    let nid = id * 10 + j;
                    g2.push((nid, boxes.clone()));
                    d2.extend(
                        dets.iter()
                            .filter(|d| d.image_id == *id)
                            .map(|d| Detection {
                                image_id: nid,
                                ..*d
                            }),
                    );
                }
            }
            let (a, b) = (m.report(Some(&w)), super::super::map::evaluate(&g2, &d2));
            assert_eq!(
                (a.map50, a.map75, a.map, a.map50_voc, a.ap_per_class.clone()),
                (b.map50, b.map75, b.map, b.map50_voc, b.ap_per_class.clone()),
                "weights {w:?}"
            );
        }
    }

    /// Nearest-rank percentiles of 1..=1000 are 25 and 975.
    #[test]
    fn percentiles_by_nearest_rank() {
        let i = percentile_interval((1..=1000).map(f64::from).collect());
        assert_eq!((i.lo, i.hi), (25.0, 975.0));
    }
}
