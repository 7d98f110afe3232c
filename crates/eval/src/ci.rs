//! 95 % confidence intervals of mAP by the bootstrap over images (frames).
//!
//! A resample draws as many images as were scored, uniformly with replacement; the figures of
//! each resample are computed exactly as `evaluate` computes them, with every drawn image
//! counted as often as it was drawn (matching never looks across images, so the per-image
//! matching is done once). The interval is the 2.5th and 97.5th percentile of `RESAMPLES`
//! resamples (the percentile bootstrap), seeded, so the same frames give the same interval.
//! Frames of one video are not independent: the held-out rule (`heldout`) spaces them seconds
//! apart, which is why the interval is over frames and not over boxes.

use super::interval::{Interval, MapCi};
use super::map::Matched;
use super::{Detection, MapReport};
use nestevo_data::GtBox;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Bootstrap resamples per interval.
pub const RESAMPLES: usize = 1000;

/// Seed of the resampling, fixed so that an interval is a function of the frames alone.
const BOOTSTRAP_SEED: u64 = 0xB007;

/// `evaluate` with the 95 % bootstrap intervals filled in (`MapReport::ci95`).
pub fn evaluate_with_ci(gt: &[(u64, Vec<GtBox>)], dets: &[Detection]) -> MapReport {
    let m = Matched::new(gt, dets);
    let mut r = m.report(None);
    r.ci95 = Some(bootstrap(&m, RESAMPLES));
    r
}

fn bootstrap(m: &Matched, resamples: usize) -> MapCi {
    let n = m.images();
    let mut rng = ChaCha8Rng::seed_from_u64(BOOTSTRAP_SEED);
    let mut cols: [Vec<f64>; 4] = Default::default();
    let mut w = vec![0u32; n];
    for _ in 0..resamples {
        w.iter_mut().for_each(|x| *x = 0);
        for _ in 0..n {
            w[rng.gen_range(0..n)] += 1;
        }
        let r = m.report(Some(&w));
        for (c, v) in cols.iter_mut().zip([r.map50, r.map75, r.map, r.map50_voc]) {
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
    if sets.is_empty() {
        return (0.0, Interval { lo: 0.0, hi: 0.0 });
    }
    let matched: Vec<Matched> = sets.iter().map(|(g, d)| Matched::new(g, d)).collect();
    let k = matched.len() as f64;
    let mean = matched.iter().map(|m| m.report(None).map50).sum::<f64>() / k;
    let mut rng = ChaCha8Rng::seed_from_u64(BOOTSTRAP_SEED);
    let mut means = Vec::with_capacity(RESAMPLES);
    for _ in 0..RESAMPLES {
        let mut sum = 0.0;
        for m in &matched {
            let n = m.images();
            let mut w = vec![0u32; n];
            for _ in 0..n {
                w[rng.gen_range(0..n)] += 1;
            }
            sum += m.report(Some(&w)).map50;
        }
        means.push(sum / k);
    }
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

    /// Nearest-rank percentiles of 1..=1000 are 25 and 975.
    #[test]
    fn percentiles_by_nearest_rank() {
        let i = percentile_interval((1..=1000).map(f64::from).collect());
        assert_eq!((i.lo, i.hi), (25.0, 975.0));
    }
}
