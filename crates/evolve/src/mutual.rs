//! The mutual-learning losses of Eq. 14-15 for a terminal/intermediate pair:
//!
//! `L_local = a * L_C,local + (1 - a) * KL(P_mid || P_local)`
//! `L_mid   = b * L_C,mid   + (1 - b) * KL(P_local || P_mid)`
//!
//! `L_C` is each model's CenterNet loss against the global model's pseudo boxes
//! (`train::loss::detection_loss`). For a detector, P is the class heat-map: each cell and
//! class is a Bernoulli probability `sigmoid(logit)`, so
//! `KL(P || Q) = mean over frames and cells of sum over classes of
//! p log(p / q) + (1 - p) log((1 - p) / (1 - q))`. The distribution being followed is
//! detached (deep mutual learning: each model learns from the other's current output, and
//! no gradient flows from one model's loss into the other). On generated latent samples
//! (no frame, one class), P is the softmax over the head's class logits and `L_C` the
//! cross-entropy against the sample's class.

use tch::{Kind, Tensor};

/// Probabilities are kept inside [EPS, 1 - EPS] so that the logarithms stay finite.
const EPS: f64 = 1e-6;

/// KL(P || Q) between per-cell Bernoulli heat-maps given as [B, C, h, w] logits; P detached.
pub fn heatmap_kl(p_logits: &Tensor, q_logits: &Tensor) -> Tensor {
    let p = p_logits.detach().sigmoid().clamp(EPS, 1.0 - EPS);
    let q = q_logits.sigmoid().clamp(EPS, 1.0 - EPS);
    let one = |t: &Tensor| t.neg() + 1.0;
    let kl = &p * (p.log() - q.log()) + one(&p) * (one(&p).log() - one(&q).log());
    let size = kl.size();
    let cells = (size[0] * size[2] * size[3]) as f64;
    kl.sum(Kind::Float) / cells
}

/// KL(P || Q) between softmax distributions of [N, C] logits, mean over N; P detached.
pub fn class_kl(p_logits: &Tensor, q_logits: &Tensor) -> Tensor {
    let lp = p_logits.detach().log_softmax(-1, Kind::Float);
    let lq = q_logits.log_softmax(-1, Kind::Float);
    (lp.exp() * (&lp - lq))
        .sum_dim_intlist([-1i64].as_slice(), false, Kind::Float)
        .mean(Kind::Float)
}

/// Eq. 14-15 from the two models' heat-map logits and their pseudo-label losses; returns
/// (L_local, L_mid).
pub fn mutual_losses(
    local_hm: &Tensor,
    mid_hm: &Tensor,
    lc_local: &Tensor,
    lc_mid: &Tensor,
    alpha: f64,
    beta: f64,
) -> (Tensor, Tensor) {
    let l_local = lc_local * alpha + heatmap_kl(mid_hm, local_hm) * (1.0 - alpha);
    let l_mid = lc_mid * beta + heatmap_kl(local_hm, mid_hm) * (1.0 - beta);
    (l_local, l_mid)
}
