//! Heat-map to boxes without LibTorch, the same steps as the trainer's `train::decode`:
//! sigmoid, 3x3 peak suppression (a cell survives only if it equals its 3x3 maximum), the
//! top-K peaks per frame over all classes, then size and offset read at each peak.

use super::{Detection, EvalError};
use ndarray::{Array4, ArrayView4};
use nestevo_core::error::Invalid;

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
    pub fn from_outputs(mut outs: Vec<Array4<f32>>) -> Result<Self, EvalError> {
        if outs.len() != 3 {
            return Err(Invalid::new(
                "",
                "outputs",
                outs.len(),
                "a detector has 3 outputs (heat-map, size, offset)",
            )
            .into());
        }
        let off = outs.pop().expect("3");
        let wh = outs.pop().expect("3");
        let hm = outs.pop().expect("3");
        let (b, _, h, w) = hm.dim();
        for (name, t) in [("size", &wh), ("offset", &off)] {
            if t.dim() != (b, 2, h, w) {
                return Err(Invalid::new(
                    "",
                    format!("{name} head"),
                    format!("{:?}", t.dim()),
                    format!("expected [{b}, 2, {h}, {w}] beside the heat-map"),
                )
                .into());
            }
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

/// A heat-map peak with the size and offset read at its cell, in cells.
#[derive(Debug, Clone, Copy)]
pub struct Peak {
    pub image_id: u64,
    pub class: usize,
    pub score: f32,
    /// (x, y) of the cell.
    pub cell: (usize, usize),
    /// (x, y) offset of the centre within the cell.
    pub offset: (f32, f32),
    /// (width, height); negative sizes count as 0.
    pub size: (f32, f32),
}

impl Peak {
    /// The box in input pixels (`stride` pixels per cell), clipped to the input `(h, w)`. The one
    /// place both decoders (this one and the trainer's) build boxes.
    pub fn to_box(&self, stride: f32, (ih, iw): (f32, f32)) -> Detection {
        let cx = (self.cell.0 as f32 + self.offset.0) * stride;
        let cy = (self.cell.1 as f32 + self.offset.1) * stride;
        let bw = self.size.0.max(0.0) * stride;
        let bh = self.size.1.max(0.0) * stride;
        Detection {
            image_id: self.image_id,
            class: self.class,
            score: self.score,
            x0: (cx - bw / 2.0).clamp(0.0, iw),
            y0: (cy - bh / 2.0).clamp(0.0, ih),
            x1: (cx + bw / 2.0).clamp(0.0, iw),
            y1: (cy + bh / 2.0).clamp(0.0, ih),
        }
    }
}

/// Decodes a batch; `image_ids[b]` names frame b; boxes are clipped to the input size.
/// Equal scores keep the lower flat index first.
pub fn decode(
    heads: &Heads,
    image_ids: &[u64],
    input_hw: (usize, usize),
    cfg: &DecodeConfig,
) -> Result<Vec<Detection>, EvalError> {
    let (b, c, h, w) = heads.hm.dim();
    if image_ids.len() != b {
        return Err(Invalid::new(
            "",
            "image ids",
            image_ids.len(),
            format!("one per frame of the batch ({b})"),
        )
        .into());
    }
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
            let peak = Peak {
                image_id: id,
                class: cls,
                score: s,
                cell: (gx, gy),
                offset: (heads.off[[bi, 0, gy, gx]], heads.off[[bi, 1, gy, gx]]),
                size: (heads.wh[[bi, 0, gy, gx]], heads.wh[[bi, 1, gy, gx]]),
            };
            dets.push(peak.to_box(cfg.stride, (ih, iw)));
        }
    }
    Ok(dets)
}
