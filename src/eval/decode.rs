//! Heat-map to boxes without LibTorch, the same steps as the trainer's `train::decode`:
//! sigmoid, 3x3 peak suppression (a cell survives only if it equals its 3x3 maximum), the
//! top-K peaks per frame over all classes, then size and offset read at each peak.

use super::Detection;
use anyhow::{ensure, Result};
use ndarray::{Array4, ArrayView4};

/// The three CenterNet heads, [B, classes, h, w], [B, 2, h, w] (width, height in cells) and
/// [B, 2, h, w] (x, y offset in cells).
#[derive(Debug, Clone)]
pub struct Heads {
    pub hm: Array4<f32>,
    pub wh: Array4<f32>,
    pub off: Array4<f32>,
}

impl Heads {
    /// From a network's outputs in the order heat-map, size, offset; shapes are checked.
    pub fn from_outputs(mut outs: Vec<Array4<f32>>) -> Result<Self> {
        ensure!(
            outs.len() == 3,
            "a detector has 3 outputs (heat-map, size, offset), got {}",
            outs.len()
        );
        let off = outs.pop().expect("3");
        let wh = outs.pop().expect("3");
        let hm = outs.pop().expect("3");
        let (b, _, h, w) = hm.dim();
        for (name, t) in [("size", &wh), ("offset", &off)] {
            ensure!(
                t.dim() == (b, 2, h, w),
                "{name} head has shape {:?}, expected [{b}, 2, {h}, {w}] beside the heat-map",
                t.dim()
            );
        }
        Ok(Heads { hm, wh, off })
    }
}

/// How heat-maps become boxes; the trainer's tch decoder takes the same.
#[derive(Debug, Clone, Copy)]
pub struct DecodeConfig {
    /// Peaks kept per frame before the score threshold.
    pub top_k: usize,
    /// Peaks below this score are dropped (low, so that mAP sees the whole PR curve).
    pub min_score: f32,
    /// Input pixels per output cell.
    pub stride: f32,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        Self {
            top_k: 50,
            min_score: 0.01,
            stride: 4.0,
        }
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Cells that equal the maximum of their 3x3 neighbourhood keep their score, others are 0.
fn peaks(prob: ArrayView4<f32>) -> Array4<f32> {
    let (_, _, h, w) = prob.dim();
    Array4::from_shape_fn(prob.dim(), |(n, c, y, x)| {
        let v = prob[[n, c, y, x]];
        let mut m = f32::NEG_INFINITY;
        for yy in y.saturating_sub(1)..(y + 2).min(h) {
            for xx in x.saturating_sub(1)..(x + 2).min(w) {
                m = m.max(prob[[n, c, yy, xx]]);
            }
        }
        if v == m {
            v
        } else {
            0.0
        }
    })
}

/// Decodes a batch; `image_ids[b]` names frame b; boxes are clipped to the input size.
/// Equal scores keep the lower flat index first.
pub fn decode(
    heads: &Heads,
    image_ids: &[u64],
    input_hw: (usize, usize),
    cfg: &DecodeConfig,
) -> Result<Vec<Detection>> {
    let (b, c, h, w) = heads.hm.dim();
    ensure!(
        image_ids.len() == b,
        "{} image ids for a batch of {b} frames",
        image_ids.len()
    );
    let prob = heads.hm.mapv(sigmoid);
    let pk = peaks(prob.view());
    let (ih, iw) = (input_hw.0 as f32, input_hw.1 as f32);
    let k = cfg.top_k.min(c * h * w);
    let mut dets = Vec::new();
    for (bi, &id) in image_ids.iter().enumerate() {
        let frame = pk.index_axis(ndarray::Axis(0), bi);
        let mut order: Vec<(usize, f32)> = frame.iter().copied().enumerate().collect();
        order.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        for &(idx, s) in order.iter().take(k) {
            if s < cfg.min_score {
                break;
            }
            let (cls, pix) = (idx / (h * w), idx % (h * w));
            let (gy, gx) = (pix / w, pix % w);
            let cx = (gx as f32 + heads.off[[bi, 0, gy, gx]]) * cfg.stride;
            let cy = (gy as f32 + heads.off[[bi, 1, gy, gx]]) * cfg.stride;
            let bw = heads.wh[[bi, 0, gy, gx]].max(0.0) * cfg.stride;
            let bh = heads.wh[[bi, 1, gy, gx]].max(0.0) * cfg.stride;
            dets.push(Detection {
                image_id: id,
                class: cls,
                score: s,
                x0: (cx - bw / 2.0).clamp(0.0, iw),
                y0: (cy - bh / 2.0).clamp(0.0, ih),
                x1: (cx + bw / 2.0).clamp(0.0, iw),
                y1: (cy + bh / 2.0).clamp(0.0, ih),
            });
        }
    }
    Ok(dets)
}
