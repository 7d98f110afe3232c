//! A FedGen-style (Zhu et al., ICML 2021) label-conditioned generator G(eps, y) -> z in the
//! intermediates' shared latent space: the input of their last layers, which for these
//! detectors is one cell of `head_relu` (the feature vector the 1x1 heads read), so a sample
//! is what the heads would see at the centre of an object of class y.
//!
//! G is an MLP on `[eps, onehot(y)]` (eps ~ N(0, I)): linear, batch norm, ReLU, linear, ReLU
//! (the latent is a ReLU output, so it is non-negative). It is trained so that every
//! intermediate's heat-map head classifies its samples as y:
//! `L = mean_n sum_k a_k^{y_n} CE(head_k(G(eps_n, y_n)), y_n) + lambda * L_div`, with
//! `a_k^y = n_k^y / sum_j n_j^y` the share of intermediate k in the pseudo boxes of class y
//! (FedGen's label-count weights), labels drawn in proportion to all pseudo boxes, and FedGen's
//! diversity term `L_div = exp(-mean_{n,m} d(eps_n, eps_m) d(z_n, z_m))` (d: mean squared
//! difference) that keeps different noise from collapsing onto one point. The head's
//! class logits are the heat-map logits read as a classifier over the classes.
//!
//! A pruned terminal's head reads a narrower latent (its own `head_relu`), so it cannot take
//! these samples as they are. With `generator.terminal` they reach it through a linear map
//! fitted, without labels, from the intermediate's latents to the terminal's at the same
//! cells (`coevolve::latent_projection`); without it the terminal takes part in mutual
//! learning only through the KL term on real frames.

use super::error::{EvolveError, Result};
use nestevo_model::Op;
use nestevo_train::detector::Detector;
use tch::nn::{self, Module, ModuleT, OptimizerConfig};
use tch::{Device, Kind, Tensor};

/// A detector's heat-map head as a linear classifier of latent vectors: logits = W z + b.
pub struct Head {
    /// `[classes, latent]`.
    pub w: Tensor,
    /// `[classes]`.
    pub b: Tensor,
}

impl Head {
    /// The heat-map head (the description's first output, a 1x1 conv) of `d`, detached.
    pub fn of(d: &Detector) -> Result<Head> {
        let name = &d.desc.outputs[0];
        let layer = d
            .desc
            .layers
            .iter()
            .find(|l| &l.name == name)
            .ok_or_else(|| {
                EvolveError::BadInput(format!("model {}: no layer {name}", d.desc.name))
            })?;
        match &layer.op {
            Op::Conv {
                kernel, bias: true, ..
            } if kernel == &[1, 1] => {}
            _ => {
                return Err(EvolveError::BadInput(format!(
                    "model {}: the heat-map head `{name}` must be a 1x1 conv with a bias to \
                     read latent vectors",
                    d.desc.name
                )))
            }
        }
        let vars = d.vs.variables();
        let get = |what: &str| {
            vars.get(&format!("{name}.{what}"))
                .map(|t| t.detach().copy())
                .ok_or_else(|| {
                    EvolveError::BadInput(format!(
                        "model {}: no variable {name}.{what}",
                        d.desc.name
                    ))
                })
        };
        let w = get("weight")?;
        let (c, dim) = (w.size()[0], w.size()[1]);
        Ok(Head {
            w: w.reshape([c, dim]),
            b: get("bias")?,
        })
    }

    pub fn latent_dim(&self) -> usize {
        self.w.size()[1] as usize
    }

    pub fn classes(&self) -> usize {
        self.w.size()[0] as usize
    }

    /// [N, latent] -> [N, classes] logits.
    pub fn logits(&self, z: &Tensor) -> Tensor {
        z.linear(&self.w, Some(&self.b))
    }
}

pub struct Generator {
    pub vs: nn::VarStore,
    l1: nn::Linear,
    bn: nn::BatchNorm,
    l2: nn::Linear,
    pub noise_dim: usize,
    pub classes: usize,
    pub latent: usize,
    /// When set, every sample is scaled to this L2 norm (`with_norm`).
    norm: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct GenConfig {
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    /// Weight lambda of the diversity term.
    pub diversity: f64,
    pub seed: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct GenReport {
    /// Mean loss over the first and the last tenth of the steps.
    pub first_loss: f64,
    pub last_loss: f64,
    /// Per head: the share of 1000 fresh samples it classifies as their label.
    pub accuracy: Vec<f64>,
    /// Mean L2 norm of those samples: set beside the intermediates' own latents at pseudo-box
    /// centres (`PairReport::latent_norm`), it shows whether the generator inflated its
    /// samples to satisfy the heads.
    pub latent_norm: f64,
}

impl Generator {
    pub fn new(
        noise_dim: usize,
        hidden: usize,
        latent: usize,
        classes: usize,
        device: Device,
    ) -> Self {
        let vs = nn::VarStore::new(device);
        let p = vs.root();
        let l1 = nn::linear(
            &p / "l1",
            (noise_dim + classes) as i64,
            hidden as i64,
            Default::default(),
        );
        let bn = nn::batch_norm1d(&p / "bn", hidden as i64, Default::default());
        let l2 = nn::linear(&p / "l2", hidden as i64, latent as i64, Default::default());
        Self {
            vs,
            l1,
            bn,
            l2,
            noise_dim,
            classes,
            latent,
            norm: None,
        }
    }

    /// Samples of L2 norm `r`: the generator chooses only their direction. Unbounded, it
    /// satisfies the heads by inflating its latents (a larger latent only sharpens their
    /// softmax), and the intermediates' cross-entropy on such samples is near 0 from the first
    /// step; at the scale of the intermediates' own latents it is not.
    pub fn with_norm(mut self, r: f64) -> Result<Self> {
        if !(r.is_finite() && r > 0.0) {
            return Err(EvolveError::BadInput(format!(
                "generator: sample norm {r}: must be a finite number above 0"
            )));
        }
        self.norm = Some(r);
        Ok(self)
    }

    /// z = G(eps, y) for `[N, noise_dim]` noise and `[N]` class indices.
    pub fn forward(&self, eps: &Tensor, y: &Tensor, train: bool) -> Tensor {
        let onehot = y.one_hot(self.classes as i64).to_kind(Kind::Float);
        let h = self.l1.forward(&Tensor::cat(&[eps, &onehot], 1));
        let h = self.bn.forward_t(&h, train).relu();
        let z = self.l2.forward(&h).relu();
        match self.norm {
            Some(r) => {
                // The clamp keeps an all-zero sample's gradient finite (sqrt's is infinite at
                // 0); no other sample's norm is anywhere near it.
                let n = z
                    .square()
                    .sum_dim_intlist([1i64].as_slice(), true, Kind::Float)
                    .clamp_min(1e-24)
                    .sqrt();
                z * r / (n + 1e-6)
            }
            None => z,
        }
    }

    /// Fresh samples of classes `y`: (eps, z).
    pub fn sample(&self, y: &Tensor, train: bool) -> (Tensor, Tensor) {
        let eps = Tensor::randn(
            [y.size()[0], self.noise_dim as i64],
            (Kind::Float, self.vs.device()),
        );
        let z = self.forward(&eps, y, train);
        (eps, z)
    }
}

/// The L2 norm of each row of a `[N, latent]` tensor, as `[N]`.
pub fn row_norms(t: &Tensor) -> Tensor {
    t.square()
        .sum_dim_intlist([1i64].as_slice(), false, Kind::Float)
        .sqrt()
}

/// `n` class labels drawn in proportion to `prior` (seeded by LibTorch's generator).
pub fn draw_labels(prior: &[f64], n: usize, device: Device) -> Tensor {
    let p = Tensor::from_slice(prior)
        .to_kind(Kind::Float)
        .to_device(device);
    p.multinomial(n as i64, true)
}

/// FedGen's diversity term on a batch.
fn diversity(eps: &Tensor, z: &Tensor) -> Tensor {
    let pd = |t: &Tensor| {
        (t.unsqueeze(1) - t.unsqueeze(0))
            .square()
            .mean_dim([2i64].as_slice(), false, Kind::Float)
    };
    (pd(eps) * pd(z)).mean(Kind::Float).neg().exp()
}

/// Trains `g` against `heads`; `counts[k][c]` = pseudo boxes of class c among intermediate
/// k's frames (the label prior and the per-class weights a_k^c come from them).
pub fn train_generator(
    g: &mut Generator,
    heads: &[Head],
    counts: &[Vec<usize>],
    cfg: &GenConfig,
) -> Result<GenReport> {
    if heads.is_empty() || heads.len() != counts.len() {
        return Err(EvolveError::BadInput(format!(
            "generator: {} heads and {} label counts (one per intermediate needed)",
            heads.len(),
            counts.len()
        )));
    }
    for (k, h) in heads.iter().enumerate() {
        if h.latent_dim() != g.latent || h.classes() != g.classes || counts[k].len() != g.classes {
            return Err(EvolveError::BadInput(format!(
                "generator of latent {} and {} classes: head {k} reads latent {} with {} \
                 classes and has {} label counts",
                g.latent,
                g.classes,
                h.latent_dim(),
                h.classes(),
                counts[k].len()
            )));
        }
    }
    let c = g.classes;
    let per_class: Vec<usize> = (0..c).map(|y| counts.iter().map(|v| v[y]).sum()).collect();
    let total: usize = per_class.iter().sum();
    if total == 0 || cfg.steps == 0 || cfg.batch < 2 {
        return Err(EvolveError::BadInput(format!(
            "generator: needs pseudo boxes (got class counts {per_class:?}), steps >= 1 and \
             batch >= 2 (got {} and {})",
            cfg.steps, cfg.batch
        )));
    }
    let prior: Vec<f64> = per_class.iter().map(|&n| n as f64 / total as f64).collect();
    let dev = g.vs.device();
    // a_k^y, as a [heads, classes] table indexed by the batch's labels.
    let a: Vec<f32> = counts
        .iter()
        .flat_map(|v| {
            (0..c).map(|y| match per_class[y] {
                0 => 0.0,
                n => v[y] as f32 / n as f32,
            })
        })
        .collect();
    let a = Tensor::from_slice(&a)
        .reshape([heads.len() as i64, c as i64])
        .to_device(dev);
    tch::manual_seed(cfg.seed as i64);
    let mut opt = nn::Adam::default().build(&g.vs, cfg.lr)?;
    let mut losses = Vec::with_capacity(cfg.steps);
    for step in 0..cfg.steps {
        let y = draw_labels(&prior, cfg.batch, dev);
        let (eps, z) = g.sample(&y, true);
        let mut loss = diversity(&eps, &z) * cfg.diversity;
        for (k, h) in heads.iter().enumerate() {
            let ce = h
                .logits(&z)
                .log_softmax(-1, Kind::Float)
                .gather(1, &y.unsqueeze(1), false)
                .squeeze_dim(1)
                .neg();
            let w = a.get(k as i64).index_select(0, &y);
            loss += (ce * w).mean(Kind::Float);
        }
        let v = loss.double_value(&[]);
        if !v.is_finite() {
            return Err(EvolveError::Fault(format!(
                "generator: the loss is {v} at step {step}; training stopped"
            )));
        }
        opt.backward_step(&loss);
        losses.push(v);
    }
    let tenth = (losses.len() / 10).max(1);
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    let _guard = tch::no_grad_guard();
    let y = draw_labels(&prior, 1000, dev);
    let (_, z) = g.sample(&y, false);
    let latent_norm = row_norms(&z).mean(Kind::Float).double_value(&[]);
    let accuracy = heads
        .iter()
        .map(|h| {
            h.logits(&z)
                .argmax(-1, false)
                .eq_tensor(&y)
                .to_kind(Kind::Float)
                .mean(Kind::Float)
                .double_value(&[])
        })
        .collect();
    Ok(GenReport {
        first_loss: mean(&losses[..tenth]),
        last_loss: mean(&losses[losses.len() - tenth..]),
        accuracy,
        latent_norm,
    })
}
