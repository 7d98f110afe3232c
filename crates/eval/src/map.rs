//! Mean average precision as pycocotools computes it (`COCOeval`, bbox, area range all,
//! 100 detections per image and class), plus the Pascal VOC (2010+) all-points AP at IoU 0.5.

use super::interval::MapCi;
use super::Detection;
use nestevo_data::{GtBox, CLASSES};
use serde::Serialize;
use std::collections::BTreeMap;

/// Detections kept per image and class, highest scores first (COCO's `maxDets[-1]`).
pub const MAX_DETS: usize = 100;

/// IoU thresholds .50:.05:.95, computed as `numpy.linspace` does so thresholds match bit for bit.
pub const IOU_THRESHOLDS: [f64; 10] = {
    let mut t = [0.0; 10];
    let step = (0.95 - 0.5) / 9.0;
    let mut i = 0;
    while i < 9 {
        t[i] = i as f64 * step + 0.5;
        i += 1;
    }
    t[9] = 0.95;
    t
};

/// How precision is summarised over recall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApKind {
    /// COCO: interpolated precision sampled at recall 0, 0.01, ..., 1 (101 points), averaged.
    Coco101,
    /// Pascal VOC 2010+: area under the interpolated precision-recall curve (all points).
    VocAllPoints,
}

/// The figures of one evaluation. Classes with no ground truth anywhere are left out of every
/// mean (as COCO does); when no class has ground truth the means are 0.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MapReport {
    /// COCO mAP at IoU 0.5.
    pub map50: f64,
    /// COCO mAP at IoU 0.75.
    pub map75: f64,
    /// COCO mAP averaged over IoU .50:.05:.95.
    pub map: f64,
    /// Pascal VOC all-points mAP at IoU > 0.5.
    pub map50_voc: f64,
    /// Per class (in `CLASSES` order): COCO AP at 0.5, `None` without ground truth.
    pub ap50_per_class: Vec<Option<f64>>,
    /// Per class: COCO AP over .50:.95.
    pub ap_per_class: Vec<Option<f64>>,
    pub images: usize,
    pub gt_boxes: usize,
    pub detections: usize,
    /// 95 % bootstrap intervals of the means, when asked for (`evaluate_with_ci`).
    pub ci95: Option<MapCi>,
}

/// Intersection over union of two boxes `[x0, y0, x1, y1]` (continuous pixels, COCO's area).
pub fn iou(a: [f32; 4], b: [f32; 4]) -> f64 {
    let [a0, a1, a2, a3] = a.map(f64::from);
    let [b0, b1, b2, b3] = b.map(f64::from);
    let iw = (a2.min(b2) - a0.max(b0)).max(0.0);
    let ih = (a3.min(b3) - a1.max(b1)).max(0.0);
    let inter = iw * ih;
    let union = (a2 - a0) * (a3 - a1) + (b2 - b0) * (b3 - b1) - inter;
    if union <= 0.0 {
        0.0
    } else {
        inter / union
    }
}

/// AP from detections already sorted by descending score (`true` = true positive) and the number
/// of ground-truth boxes.
pub fn average_precision(kind: ApKind, tp: &[bool], n_gt: usize) -> f64 {
    average_precision_in(kind, tp, n_gt, &mut Vec::new(), &mut Vec::new())
}

/// `average_precision` with the recall and precision curves in the caller's buffers (a
/// bootstrap computes thousands of curves of a hundred thousand points).
fn average_precision_in(
    kind: ApKind,
    tp: &[bool],
    n_gt: usize,
    rc: &mut Vec<f64>,
    pr: &mut Vec<f64>,
) -> f64 {
    if n_gt == 0 {
        return 0.0;
    }
    let (mut ctp, mut cfp) = (0.0f64, 0.0f64);
    rc.clear();
    pr.clear();
    for &t in tp {
        if t {
            ctp += 1.0;
        } else {
            cfp += 1.0;
        }
        rc.push(ctp / n_gt as f64);
        match kind {
            // pycocotools adds np.spacing(1) to the denominator.
            ApKind::Coco101 => pr.push(ctp / (ctp + cfp + f64::EPSILON)),
            ApKind::VocAllPoints => pr.push(ctp / (ctp + cfp)),
        }
    }
    // Interpolate: precision at recall r is the best precision at any recall >= r.
    for i in (1..pr.len()).rev() {
        if pr[i] > pr[i - 1] {
            pr[i - 1] = pr[i];
        }
    }
    match kind {
        ApKind::Coco101 => {
            let mut sum = 0.0;
            for k in 0..=100 {
                let r = k as f64 * (1.0 / 100.0); // numpy.linspace(0, 1, 101)
                let idx = rc.partition_point(|&x| x < r); // searchsorted(side='left')
                if idx < pr.len() {
                    sum += pr[idx];
                }
            }
            sum / 101.0
        }
        ApKind::VocAllPoints => {
            let mut ap = 0.0;
            let mut prev_r = 0.0;
            for (r, p) in rc.iter().zip(pr.iter()) {
                ap += (r - prev_r) * p;
                prev_r = *r;
            }
            ap
        }
    }
}

fn det_box(d: &Detection) -> [f32; 4] {
    [d.x0, d.y0, d.x1, d.y1]
}

fn gt_box(g: &GtBox) -> [f32; 4] {
    [g.x0, g.y0, g.x1, g.y1]
}

/// Sorts by descending score, keeping the given order among equal scores (numpy's mergesort).
fn by_score(ds: &mut [&Detection]) {
    ds.sort_by(|a, b| b.score.total_cmp(&a.score));
}

/// COCO matching on one image and class at IoU threshold `t`: each detection, best first, takes
/// the unmatched ground truth of highest IoU >= t. Returns the true-positive flags.
fn coco_match(dets: &[&Detection], gts: &[&GtBox], t: f64) -> Vec<bool> {
    let mut taken = vec![false; gts.len()];
    dets.iter()
        .map(|d| {
            let mut best = t.min(1.0 - 1e-10);
            let mut m = None;
            for (g, gt) in gts.iter().enumerate() {
                let o = iou(det_box(d), gt_box(gt));
                if taken[g] || o < best {
                    continue;
                }
                best = o;
                m = Some(g);
            }
            if let Some(g) = m {
                taken[g] = true;
            }
            m.is_some()
        })
        .collect()
}

/// Evaluates detections against ground truth per image. Detections on images absent from `gt`
/// count as images without objects (all false positives).
pub fn evaluate(gt: &[(u64, Vec<GtBox>)], dets: &[Detection]) -> MapReport {
    Matched::new(gt, dets).report(None)
}

/// Per image and class, the matching outcome of its detections (score and true-positive flag
/// at every COCO threshold and by VOC) and its ground-truth count. Matching never looks across
/// images, so a bootstrap resample of images only re-weights these rows.
pub(super) struct Matched {
    /// image (ascending id, as COCOeval orders them) -> class -> ground-truth boxes.
    n_gt: Vec<Vec<usize>>,
    /// Per class, every image's COCO (resp. VOC) rows in the pooled ranking with each image
    /// counted once: (score, image, row), by descending score, ties in (image, row) order.
    coco_rank: Vec<Vec<(f32, u32, [bool; 10])>>,
    voc_rank: Vec<Vec<(f32, u32, bool)>>,
    gt_images: usize,
    detections: usize,
}

/// The pooled ranking of a resample that counts image i `w(i)` times, as a stable sort by
/// descending score of the images' rows concatenated (image by image, each as often as drawn)
/// orders it: among equal scores, image by image, each image's rows repeated copy after copy.
/// `rank` is that ranking with every image once, (score, image, outcome); `out` gets the
/// positions in `rank` of the resample's ranking.
fn weighted_rank<T>(rank: &[(f32, u32, T)], w: impl Fn(usize) -> usize, out: &mut Vec<u32>) {
    out.clear();
    let mut i = 0;
    while i < rank.len() {
        let (score, img) = (rank[i].0, rank[i].1);
        let mut j = i + 1;
        while j < rank.len() && rank[j].1 == img && rank[j].0.total_cmp(&score).is_eq() {
            j += 1;
        }
        for _ in 0..w(img as usize) {
            out.extend(i as u32..j as u32);
        }
        i = j;
    }
}

/// Rows (score, image, outcome) of every image once, stably sorted by descending score;
/// `rows(image)` gives an image's (score, outcome) rows for the class.
fn ranking<T: Copy>(
    images: &[Vec<ImageClass>],
    rows: impl Fn(&[ImageClass]) -> Vec<(f32, T)>,
) -> Vec<(f32, u32, T)> {
    let mut r = Vec::new();
    for (i, img) in images.iter().enumerate() {
        for (s, t) in rows(img) {
            r.push((s, i as u32, t));
        }
    }
    r.sort_by(|a, b| b.0.total_cmp(&a.0));
    r
}

/// One image and class's rows, before they are pooled into the rankings.
struct ImageClass {
    n_gt: usize,
    /// The best MAX_DETS detections by score: (score, tp at each IoU threshold).
    coco: Vec<(f32, [bool; 10])>,
    /// Every detection by score: (score, tp by VOC's rule).
    voc: Vec<(f32, bool)>,
}

impl Matched {
    pub(super) fn new(gt: &[(u64, Vec<GtBox>)], dets: &[Detection]) -> Self {
        let nc = CLASSES.len();
        type PerClass<'a, T> = Vec<Vec<&'a T>>;
        let mut images: BTreeMap<u64, (PerClass<GtBox>, PerClass<Detection>)> = BTreeMap::new();
        let empty = || (vec![Vec::new(); nc], vec![Vec::new(); nc]);
        for (id, boxes) in gt {
            let e = images.entry(*id).or_insert_with(empty);
            for b in boxes.iter().filter(|b| b.class < nc) {
                e.0[b.class].push(b);
            }
        }
        for d in dets.iter().filter(|d| d.class < nc) {
            images.entry(d.image_id).or_insert_with(empty).1[d.class].push(d);
        }
        let images: Vec<Vec<ImageClass>> = images
            .values()
            .map(|(g, d)| {
                (0..nc)
                    .map(|c| {
                        let mut ds = d[c].clone();
                        by_score(&mut ds);
                        let voc = ds
                            .iter()
                            .zip(voc_match(&ds, &g[c]))
                            .map(|(d, m)| (d.score, m))
                            .collect();
                        ds.truncate(MAX_DETS);
                        let mut coco: Vec<(f32, [bool; 10])> =
                            ds.iter().map(|d| (d.score, [false; 10])).collect();
                        for (k, &t) in IOU_THRESHOLDS.iter().enumerate() {
                            for (row, m) in coco.iter_mut().zip(coco_match(&ds, &g[c], t)) {
                                row.1[k] = m;
                            }
                        }
                        ImageClass {
                            n_gt: g[c].len(),
                            coco,
                            voc,
                        }
                    })
                    .collect()
            })
            .collect();
        let coco_rank = (0..nc)
            .map(|c| ranking(&images, |img| img[c].coco.clone()))
            .collect();
        let voc_rank = (0..nc)
            .map(|c| ranking(&images, |img| img[c].voc.clone()))
            .collect();
        Matched {
            n_gt: images
                .iter()
                .map(|img| img.iter().map(|ic| ic.n_gt).collect())
                .collect(),
            coco_rank,
            voc_rank,
            gt_images: gt.len(),
            detections: dets.len(),
        }
    }

    pub(super) fn images(&self) -> usize {
        self.n_gt.len()
    }

    /// The figures with image `i` counted `weights[i]` times (all once when `None`).
    pub(super) fn report(&self, weights: Option<&[u32]>) -> MapReport {
        let nc = CLASSES.len();
        let w = |i: usize| weights.map_or(1, |w| w[i]) as usize;
        let mut n_gt = vec![0usize; nc];
        for (i, img) in self.n_gt.iter().enumerate() {
            for c in 0..nc {
                n_gt[c] += w(i) * img[c];
            }
        }
        let mut ap = vec![[0.0f64; 10]; nc];
        let mut voc = vec![0.0f64; nc];
        for c in 0..nc {
            if n_gt[c] == 0 {
                continue;
            }
            // The pooled rankings every image's rows make when counted as drawn (stable:
            // equal scores keep image order, as numpy's mergesort does).
            let mut seq = Vec::new();
            let rank = &self.coco_rank[c];
            weighted_rank(rank, w, &mut seq);
            let mut flags = Vec::with_capacity(seq.len());
            let (mut rc, mut pr) = (Vec::new(), Vec::new());
            for (k, a) in ap[c].iter_mut().enumerate() {
                flags.clear();
                flags.extend(seq.iter().map(|&p| rank[p as usize].2[k]));
                *a = average_precision_in(ApKind::Coco101, &flags, n_gt[c], &mut rc, &mut pr);
            }
            let rank = &self.voc_rank[c];
            weighted_rank(rank, w, &mut seq);
            flags.clear();
            flags.extend(seq.iter().map(|&p| rank[p as usize].2));
            voc[c] = average_precision_in(ApKind::VocAllPoints, &flags, n_gt[c], &mut rc, &mut pr);
        }

        let with_gt: Vec<usize> = (0..nc).filter(|&c| n_gt[c] > 0).collect();
        let mean = |f: &dyn Fn(usize) -> f64| {
            if with_gt.is_empty() {
                0.0
            } else {
                with_gt.iter().map(|&c| f(c)).sum::<f64>() / with_gt.len() as f64
            }
        };
        let ap_all = |c: usize| ap[c].iter().sum::<f64>() / 10.0;
        let some = |c: usize, v: f64| (n_gt[c] > 0).then_some(v);
        MapReport {
            map50: mean(&|c| ap[c][0]),
            map75: mean(&|c| ap[c][5]),
            map: mean(&ap_all),
            map50_voc: mean(&|c| voc[c]),
            ap50_per_class: (0..nc).map(|c| some(c, ap[c][0])).collect(),
            ap_per_class: (0..nc).map(|c| some(c, ap_all(c))).collect(),
            images: self.gt_images,
            gt_boxes: n_gt.iter().sum(),
            detections: self.detections,
            ci95: None,
        }
    }
}

/// VOC matching on one image and class: each detection, best first, looks at the ground truth of
/// highest IoU; it is a true positive when that IoU exceeds 0.5 and the box is not yet taken.
fn voc_match(dets: &[&Detection], gts: &[&GtBox]) -> Vec<bool> {
    let mut taken = vec![false; gts.len()];
    dets.iter()
        .map(|d| {
            let best = gts
                .iter()
                .enumerate()
                .map(|(g, gt)| (g, iou(det_box(d), gt_box(gt))))
                .fold(None, |acc: Option<(usize, f64)>, x| match acc {
                    Some(a) if a.1 >= x.1 => Some(a),
                    _ => Some(x),
                });
            match best {
                Some((g, o)) if o > 0.5 && !taken[g] => {
                    taken[g] = true;
                    true
                }
                _ => false,
            }
        })
        .collect()
}
