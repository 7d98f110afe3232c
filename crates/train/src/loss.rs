//! CenterNet losses: focal loss on the class heat-map, L1 on box size and centre offset at the
//! object centres, plus knowledge distillation from a teacher's outputs.

use nestevo_data::GtBox;
use tch::{Device, Kind, Tensor};

/// Most objects one frame may hold in the targets; more are dropped (largest kept first).
pub const MAX_OBJECTS: usize = 64;
/// Loss weights of the CenterNet paper (size in output-grid units, hence the small weight).
const W_WH: f64 = 0.1;
const W_OFF: f64 = 1.0;

/// The detector's three heads for one batch.
#[derive(Debug)]
pub struct HeadOut {
    /// [B, classes, h, w] logits.
    pub hm: Tensor,
    /// [B, 2, h, w] box width and height in output-grid cells.
    pub wh: Tensor,
    /// [B, 2, h, w] sub-cell offset of the centre.
    pub off: Tensor,
}

impl HeadOut {
    pub fn detach(&self) -> HeadOut {
        HeadOut {
            hm: self.hm.detach(),
            wh: self.wh.detach(),
            off: self.off.detach(),
        }
    }
}

/// Training targets on the output grid, built on the CPU from boxes in input pixels.
pub struct Targets {
    pub hm: Tensor,
    pub ind: Tensor,
    pub mask: Tensor,
    pub wh: Tensor,
    pub off: Tensor,
}

/// CenterNet's Gaussian radius: the largest centre shift that keeps IoU >= `min_overlap`.
fn gaussian_radius(h: f32, w: f32, min_overlap: f32) -> f32 {
    let (a1, b1, c1) = (
        1.0,
        h + w,
        w * h * (1.0 - min_overlap) / (1.0 + min_overlap),
    );
    let r1 = (b1 + (b1 * b1 - 4.0 * a1 * c1).max(0.0).sqrt()) / 2.0;
    let (a2, b2, c2) = (4.0, 2.0 * (h + w), (1.0 - min_overlap) * w * h);
    let r2 = (b2 + (b2 * b2 - 4.0 * a2 * c2).max(0.0).sqrt()) / 2.0;
    let (a3, b3, c3) = (
        4.0 * min_overlap,
        -2.0 * min_overlap * (h + w),
        (min_overlap - 1.0) * w * h,
    );
    let r3 = (b3 + (b3 * b3 - 4.0 * a3 * c3).max(0.0).sqrt()) / 2.0;
    r1.min(r2).min(r3)
}

/// Builds targets for a batch; `grid` = (h, w) of the output, `stride` = input pixels per cell.
pub fn build_targets(
    boxes: &[Vec<GtBox>],
    classes: usize,
    grid: (usize, usize),
    stride: f32,
    device: Device,
) -> Targets {
    let (gh, gw) = grid;
    let b = boxes.len();
    let mut hm = vec![0f32; b * classes * gh * gw];
    let mut ind = vec![0i64; b * MAX_OBJECTS];
    let mut mask = vec![0f32; b * MAX_OBJECTS];
    let mut wh = vec![0f32; b * MAX_OBJECTS * 2];
    let mut off = vec![0f32; b * MAX_OBJECTS * 2];
    for (bi, frame) in boxes.iter().enumerate() {
        let mut sorted: Vec<&GtBox> = frame.iter().filter(|g| g.class < classes).collect();
        sorted.sort_by(|a, b| area(b).total_cmp(&area(a)));
        for (k, g) in sorted.into_iter().take(MAX_OBJECTS).enumerate() {
            let (w, h) = ((g.x1 - g.x0) / stride, (g.y1 - g.y0) / stride);
            if w <= 0.0 || h <= 0.0 {
                continue;
            }
            let (cx, cy) = (
                (g.x0 + g.x1) / (2.0 * stride),
                (g.y0 + g.y1) / (2.0 * stride),
            );
            let (ix, iy) = (
                (cx.floor() as i64).clamp(0, gw as i64 - 1) as usize,
                (cy.floor() as i64).clamp(0, gh as i64 - 1) as usize,
            );
            let radius = gaussian_radius(h.ceil(), w.ceil(), 0.7).floor().max(0.0) as i64;
            let sigma = (2 * radius + 1) as f32 / 6.0;
            let plane = &mut hm[(bi * classes + g.class) * gh * gw..][..gh * gw];
            for dy in -radius..=radius {
                for dx in -radius..=radius {
                    let (x, y) = (ix as i64 + dx, iy as i64 + dy);
                    if x < 0 || y < 0 || x >= gw as i64 || y >= gh as i64 {
                        continue;
                    }
                    let v = (-((dx * dx + dy * dy) as f32) / (2.0 * sigma * sigma)).exp();
                    let cell = &mut plane[y as usize * gw + x as usize];
                    *cell = cell.max(v);
                }
            }
            plane[iy * gw + ix] = 1.0;
            let slot = bi * MAX_OBJECTS + k;
            ind[slot] = (iy * gw + ix) as i64;
            mask[slot] = 1.0;
            wh[slot * 2] = w;
            wh[slot * 2 + 1] = h;
            off[slot * 2] = cx - ix as f32;
            off[slot * 2 + 1] = cy - iy as f32;
        }
    }
    let (b, c, gh, gw, k) = (
        b as i64,
        classes as i64,
        gh as i64,
        gw as i64,
        MAX_OBJECTS as i64,
    );
    Targets {
        hm: Tensor::from_slice(&hm).reshape([b, c, gh, gw]).to(device),
        ind: Tensor::from_slice(&ind).reshape([b, k]).to(device),
        mask: Tensor::from_slice(&mask).reshape([b, k]).to(device),
        wh: Tensor::from_slice(&wh).reshape([b, k, 2]).to(device),
        off: Tensor::from_slice(&off).reshape([b, k, 2]).to(device),
    }
}

fn area(g: &GtBox) -> f32 {
    (g.x1 - g.x0) * (g.y1 - g.y0)
}

/// Penalty-reduced pixel-wise focal loss (CenterNet Eq. 1) against a soft target whose peaks
/// are exactly 1; normalised by the number of peaks.
pub fn focal_loss(logits: &Tensor, gt: &Tensor) -> Tensor {
    let pred = logits.sigmoid().clamp(1e-4, 1.0 - 1e-4);
    let pos = gt.ge(1.0 - 1e-6).to_kind(Kind::Float);
    let neg = pos.neg() + 1.0;
    let neg_w = gt.neg().g_add_scalar(1.0).pow_tensor_scalar(4.0);
    let one_minus = pred.neg() + 1.0;
    let pos_loss = (pred.log() * one_minus.square() * &pos).sum(Kind::Float);
    let neg_loss = (one_minus.log() * pred.square() * neg_w * neg).sum(Kind::Float);
    let num_pos = pos.sum(Kind::Float).clamp_min(1.0);
    -(pos_loss + neg_loss) / num_pos
}

/// L1 between a [B, 2, h, w] map read at `ind` and [B, K, 2] targets, over the masked slots.
fn reg_l1(map: &Tensor, ind: &Tensor, mask: &Tensor, target: &Tensor) -> Tensor {
    let (b, c) = (map.size()[0], map.size()[1]);
    let flat = map.reshape([b, c, -1]);
    let idx = ind.unsqueeze(1).expand([b, c, ind.size()[1]], false);
    let pred = flat.gather(2, &idx, false).permute([0, 2, 1]);
    let m = mask.unsqueeze(2);
    let l = ((pred - target).abs() * &m).sum(Kind::Float);
    l / (m.sum(Kind::Float) * 2.0 + 1e-4)
}

/// The supervised CenterNet loss.
pub fn detection_loss(out: &HeadOut, t: &Targets) -> Tensor {
    let hm = focal_loss(&out.hm, &t.hm);
    let wh = reg_l1(&out.wh, &t.ind, &t.mask, &t.wh);
    let off = reg_l1(&out.off, &t.ind, &t.mask, &t.off);
    hm + wh * W_WH + off * W_OFF
}

/// The local maxima (3x3) of heat-map probabilities `p` [B, C, H, W] at or above their
/// class's threshold: `thresholds` holds one value for every class, or one per class.
pub fn peaks(p: &Tensor, thresholds: &[f64]) -> Tensor {
    let max = p.max_pool2d([3, 3], [1, 1], [1, 1], [1, 1], false);
    let above = match thresholds {
        [t] => p.ge(*t),
        ts => {
            let c = p.size()[1];
            assert_eq!(ts.len() as i64, c, "one threshold, or one per class");
            // Compared in p's kind, as the scalar form is.
            let t = Tensor::from_slice(ts)
                .to_kind(p.kind())
                .to_device(p.device())
                .view([1, c, 1, 1]);
            p.ge_tensor(&t)
        }
    };
    p.eq_tensor(&max).logical_and(&above)
}

/// Distillation from a teacher's outputs on the same frames: the student's heat-map follows
/// the teacher's probabilities (its confident peaks, `peaks` at `peak_thresholds`, raised to
/// 1 so the focal loss has positives), and size and offset follow the teacher's where the
/// teacher sees an object.
pub fn distill_loss(student: &HeadOut, teacher: &HeadOut, peak_thresholds: &[f64]) -> Tensor {
    let t_prob = teacher.hm.detach().sigmoid();
    let peaks = peaks(&t_prob, peak_thresholds);
    let soft = t_prob.where_self(&peaks.logical_not(), &t_prob.ones_like());
    let hm = focal_loss(&student.hm, &soft);
    // Where any class of the teacher peaks, match its box regressions.
    let w = peaks.any_dim(1, true).to_kind(Kind::Float);
    let n = w.sum(Kind::Float).clamp_min(1.0) * 2.0;
    let wh = ((&student.wh - teacher.wh.detach()).abs() * &w).sum(Kind::Float) / &n;
    let off = ((&student.off - teacher.off.detach()).abs() * &w).sum(Kind::Float) / &n;
    hm + wh * W_WH + off * W_OFF
}
