//! The generator's feature-level term: its samples reach the intermediate's shared feature
//! extractor, not only its heat-map head.
//!
//! The generator (`generator`) is trained so that every intermediate's head, weighted by its
//! share of each class, classifies G(eps, y) as y: its samples of class y are where the
//! ensemble of intermediates agrees an object of class y sits in the latent space (the input
//! of the 1x1 heads). Their mean `p_y` is that class's consensus prototype. At every cell
//! where a pseudo box of class y has its centre, the intermediate's own latent `f` is asked to
//! lie nearer `p_y` than any other class's prototype, in angle:
//!
//! `L_feat = mean_cells CE(cos(f, p_.) / tau, y)`, `tau = 0.1`,
//!
//! with classes the generator never saw (no pseudo box anywhere) left out of the softmax.
//! Cosine keeps the term blind to the latent's scale, which the generator is free to inflate
//! (a larger latent only sharpens the heads' softmax) unless `generator.match_norm` holds it.
//! The gradient flows through `f` into every layer below the heads; the prototypes are constants. An intermediate whose features
//! drift from the others' on its own stream is pulled back toward what all of them read, so
//! that FedAvg averages extractors that still agree (FedProto's prototype alignment, with the
//! prototypes drawn from FedGen's generator instead of sent by the clients).

use super::generator::Generator;
use nestevo_data::GtBox;
use tch::{Kind, Tensor};

/// Temperature of the cosine logits.
pub const TAU: f64 = 0.1;

/// Samples averaged into each class's prototype.
pub const PROTOTYPE_SAMPLES: usize = 256;

/// Per class the mean of `PROTOTYPE_SAMPLES` samples of `g` (eval mode, no gradient), as a
/// [classes, latent] tensor, and which classes have a prototype (prior share above 0).
pub fn prototypes(g: &Generator, prior: &[f64]) -> (Tensor, Vec<bool>) {
    let _guard = tch::no_grad_guard();
    let dev = g.vs.device();
    let known: Vec<bool> = prior.iter().map(|&p| p > 0.0).collect();
    let rows: Vec<Tensor> = (0..g.classes)
        .map(|c| {
            let y = Tensor::full([PROTOTYPE_SAMPLES as i64], c as i64, (Kind::Int64, dev));
            g.sample(&y, false)
                .1
                .mean_dim([0i64].as_slice(), false, Kind::Float)
        })
        .collect();
    (Tensor::stack(&rows, 0), known)
}

/// The cells (frame, row, column, class) holding a box centre, as `build_targets` places
/// them: the centre divided by the stride, floored, clamped to the grid. Boxes of no area or
/// of a class outside `classes` hold none.
pub fn centre_cells(
    boxes: &[Vec<GtBox>],
    classes: usize,
    grid: (usize, usize),
    stride: f32,
) -> Vec<[usize; 4]> {
    let (gh, gw) = grid;
    let mut cells = Vec::new();
    for (b, frame) in boxes.iter().enumerate() {
        for g in frame {
            if g.class >= classes || g.x1 <= g.x0 || g.y1 <= g.y0 {
                continue;
            }
            let cx = (g.x0 + g.x1) / (2.0 * stride);
            let cy = (g.y0 + g.y1) / (2.0 * stride);
            let x = (cx.floor() as i64).clamp(0, gw as i64 - 1) as usize;
            let y = (cy.floor() as i64).clamp(0, gh as i64 - 1) as usize;
            cells.push([b, y, x, g.class]);
        }
    }
    cells
}

/// The latents of `feats` [B, latent, H, W] at `cells`, as [cells, latent].
pub fn centre_latents(feats: &Tensor, cells: &[[usize; 4]]) -> Tensor {
    let s = feats.size();
    let (d, h, w) = (s[1], s[2], s[3]);
    let flat: Vec<i64> = cells
        .iter()
        .map(|&[b, y, x, _]| (b as i64 * h + y as i64) * w + x as i64)
        .collect();
    feats
        .permute([0, 2, 3, 1])
        .reshape([-1, d])
        .index_select(0, &Tensor::from_slice(&flat).to_device(feats.device()))
}

/// `L_feat` on latents `feats` [B, latent, H, W] at `cells`; `None` without cells.
pub fn feature_loss(
    feats: &Tensor,
    cells: &[[usize; 4]],
    protos: &Tensor,
    known: &[bool],
) -> Option<Tensor> {
    if cells.is_empty() {
        return None;
    }
    let dev = feats.device();
    let target: Vec<i64> = cells.iter().map(|c| c[3] as i64).collect();
    let f = centre_latents(feats, cells);
    let unit = |t: &Tensor| {
        let n = t
            .square()
            .sum_dim_intlist([1i64].as_slice(), true, Kind::Float)
            .sqrt();
        t / (n + 1e-6)
    };
    let logits = unit(&f).matmul(&unit(protos).transpose(0, 1)) / TAU;
    let unknown: Vec<bool> = known.iter().map(|k| !k).collect();
    let unknown = Tensor::from_slice(&unknown).to_device(dev).unsqueeze(0);
    let logits = logits.masked_fill(&unknown, -1e9);
    Some(logits.cross_entropy_for_logits(&Tensor::from_slice(&target).to_device(dev)))
}
