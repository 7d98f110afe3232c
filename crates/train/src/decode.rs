//! Heat-map to boxes: 3x3 max-pool peak extraction (CenterNet's NMS), top-K, then size and
//! offset read at each peak.

use super::loss::HeadOut;
use nestevo_eval::decode::Peak;
use nestevo_eval::Detection;
use tch::{Kind, Tensor};

/// The same knobs as the simulator's decoder: one definition for both.
pub use nestevo_eval::decode::DecodeConfig;

/// Decodes a batch; `image_ids[b]` names frame b; boxes are clipped to the input size.
pub fn decode(
    out: &HeadOut,
    image_ids: &[u64],
    input_hw: (usize, usize),
    cfg: &DecodeConfig,
) -> Vec<Detection> {
    let _guard = tch::no_grad_guard();
    let prob = out.hm.sigmoid();
    let (b, c, h, w) = prob.size4().expect("heat-map is [B, C, h, w]");
    let hmax = prob.max_pool2d([3, 3], [1, 1], [1, 1], [1, 1], false);
    let peaks = &prob * prob.eq_tensor(&hmax).to_kind(Kind::Float);
    let k = (cfg.top_k as i64).min(c * h * w);
    let (scores, idx) = peaks.reshape([b, -1]).topk(k, 1, true, true);
    let cls = idx.divide_scalar_mode(h * w, "floor");
    let pix = idx.remainder(h * w);
    let gather = |m: &Tensor| {
        let flat = m.reshape([b, 2, h * w]);
        flat.gather(2, &pix.unsqueeze(1).expand([b, 2, k], false), false)
    };
    let (wh, off) = (gather(&out.wh), gather(&out.off));
    let to_vec_f = |t: &Tensor| {
        Vec::<f32>::try_from(
            t.to_device(tch::Device::Cpu)
                .to_kind(Kind::Float)
                .contiguous()
                .reshape(-1),
        )
        .expect("f32")
    };
    let to_vec_i = |t: &Tensor| {
        Vec::<i64>::try_from(t.to_device(tch::Device::Cpu).contiguous().reshape(-1)).expect("i64")
    };
    let (scores, cls, pix, wh, off) = (
        to_vec_f(&scores),
        to_vec_i(&cls),
        to_vec_i(&pix),
        to_vec_f(&wh),
        to_vec_f(&off),
    );
    let (ih, iw) = (input_hw.0 as f32, input_hw.1 as f32);
    let mut dets = Vec::new();
    for bi in 0..b as usize {
        for j in 0..k as usize {
            let s = scores[bi * k as usize + j];
            if s < cfg.min_score {
                break; // sorted descending
            }
            let p = pix[bi * k as usize + j];
            let at = |t: &[f32], ch: usize| t[(bi * 2 + ch) * k as usize + j];
            let peak = Peak {
                image_id: image_ids[bi],
                class: cls[bi * k as usize + j] as usize,
                score: s,
                cell: ((p % w) as usize, (p / w) as usize),
                offset: (at(&off, 0), at(&off, 1)),
                size: (at(&wh, 0), at(&wh, 1)),
            };
            dets.push(peak.to_box(cfg.stride, (ih, iw)));
        }
    }
    dets
}
