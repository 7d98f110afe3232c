//! Co-evolution (Algorithm 2, SPEC section 4) of the terminals and the global model, in one
//! window:
//!
//! 1. one intermediate model per terminal, a copy of the global model (its architecture and
//!    weights);
//! 2. the label-conditioned generator (`generator`) trained against the intermediates' heads,
//!    weighted by each one's share of every class in the pseudo boxes (skipped for A2);
//! 3. each terminal/intermediate pair learns mutually on the terminal's uploaded frames
//!    (`train_pair`, Eq. 14-15), with Eq. 18-20 weight noise of coefficient `mu` in the
//!    intermediate's forward pass; generated samples add `CE(head_mid(z), y)` to the
//!    intermediate's loss; with `terminal` above 0 the same samples, mapped into the pruned
//!    terminal's narrower latent (`latent_projection`), add `CE(head_local(P z), y)` to the
//!    terminal's (the generator broadcast to the pairs, as the paper has it);
//! 4. FedAvg of the intermediates weighted by their frame counts into the new global model
//!    (batch-norm running statistics averaged with the same weights, `fedavg`);
//! 5. the new global model relabels each terminal's frames and distils into that terminal
//!    (`distill`, on real frames only); the caller does that step, since it owns the labeller.
//!
//! Each pair is an independent training job (the scheduler can run them side by side).

pub use super::config::PairLabels;
use super::config::SampleLabels;
use super::distill::teacher_outputs;
use super::error::{EvolveError, Result};
use super::feature_term::centre_latents;
use super::generator::{row_norms, Generator};
use super::mutual::mutual_losses;
use nestevo_couple::label::Labelled;
use nestevo_data::{Frame, GtBox};
use nestevo_train::detector::Detector;
use nestevo_train::loss::{build_targets, detection_loss, distill_loss};
use nestevo_train::noise::WeightNoise;
use nestevo_train::trainer::lr_at;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::nn::OptimizerConfig;
use tch::{Kind, Tensor};

#[derive(Debug, Clone)]
pub struct PairConfig {
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    /// Eq. 14's a and Eq. 15's b.
    pub alpha: f64,
    pub beta: f64,
    /// Eq. 18-20 noise in the intermediate's forward pass.
    pub mu: f64,
    /// Generated samples per step (when a generator is given).
    pub samples: usize,
    /// Weight of the generator's feature-level term (`feature_term`) in the intermediate's
    /// loss, at its pseudo boxes' centres (when a generator is given); 0: none.
    pub feature: f64,
    /// Weight of the generated samples in the terminal's loss (beside alpha), through
    /// `latent_projection` (when a generator is given); 0: the terminal sees real frames only.
    pub terminal: f64,
    /// What `L_C` follows.
    pub labels: PairLabels,
    /// Normalise the intermediate with its running batch-norm statistics (and leave them).
    pub freeze_mid_bn: bool,
    /// With `PairLabels::Soft`: teacher peaks at or above these probabilities (one for every
    /// class, or one per class) are positives.
    pub peak_thresholds: Vec<f64>,
    /// Labelled source frames (the global model's own training domain) added to each of the
    /// intermediate's steps, with their ground truth (rehearsal); 0: none.
    pub replay: usize,
    pub seed: u64,
    /// For error messages, e.g. "window 2, terminal night".
    pub context: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PairReport {
    /// Mean L_local and L_mid over the first and the last tenth of the steps.
    pub local_first: f64,
    pub local_last: f64,
    pub mid_first: f64,
    pub mid_last: f64,
    pub seconds: f64,
    /// The generated samples' cross-entropy on the intermediate's head, mean over the first
    /// and the last tenth of the steps (with a generator and samples).
    pub sample_ce: Option<(f64, f64)>,
    /// The feature-level term, unweighted, the same way (with a generator and the term on).
    pub feature: Option<(f64, f64)>,
    /// Mean L2 norm of the intermediate's latents at its pseudo-box centres over the steps, as
    /// the pair computes them (its normalisation mode and weight noise), with the feature term
    /// on. `generator.match_norm` measures its target apart (`box_latent_norm`, eval mode).
    pub latent_norm: Option<f64>,
    /// The projected samples' cross-entropy on the terminal's head (first and last tenth of
    /// the steps), with the terminal's term on.
    pub terminal_ce: Option<(f64, f64)>,
    /// How well the projection reproduces the terminal's latents from the intermediate's at
    /// the pseudo-box centres it was fitted on (R^2 over every latent coordinate).
    pub projection_r2: Option<f64>,
}

/// The pseudo boxes of each label, as training targets.
pub fn pseudo_boxes(labels: &[Labelled]) -> Vec<Vec<GtBox>> {
    labels
        .iter()
        .map(|l| l.boxes.iter().map(|b| b.gt()).collect())
        .collect()
}

/// Per-class counts of pseudo boxes.
pub fn class_counts(labels: &[Labelled], classes: usize) -> Vec<usize> {
    let mut n = vec![0; classes];
    for l in labels {
        for b in &l.boxes {
            if b.class < classes {
                n[b.class] += 1;
            }
        }
    }
    n
}

/// The label prior of the generator from per-intermediate class counts: each class's share of
/// all pseudo boxes, and their number.
pub fn class_prior(counts: &[Vec<usize>]) -> (Vec<f64>, usize) {
    let classes = counts.first().map_or(0, |c| c.len());
    let total: Vec<usize> = (0..classes)
        .map(|c| counts.iter().map(|v| v[c]).sum())
        .collect();
    let all: usize = total.iter().sum();
    let prior = total
        .iter()
        .map(|&x| x as f64 / all.max(1) as f64)
        .collect();
    (prior, all)
}

/// Each pair's prior for its generated samples' classes (`generator.sample_labels`): the pooled
/// shares of `class_prior`, or with `Own` the shares of that intermediate's own pseudo boxes
/// (the pooled ones where it has none).
pub fn pair_priors(counts: &[Vec<usize>], mode: SampleLabels) -> Vec<Vec<f64>> {
    let (pooled, _) = class_prior(counts);
    counts
        .iter()
        .map(|c| match mode {
            SampleLabels::Own => match class_prior(std::slice::from_ref(c)) {
                (own, m) if m > 0 => own,
                _ => pooled.clone(),
            },
            SampleLabels::Pooled => pooled.clone(),
        })
        .collect()
}

/// The heat-map head of `d` as live (trainable) logits of latent vectors: [N, latent] ->
/// [N, classes].
fn head_logits(d: &Detector, z: &Tensor) -> Result<Tensor> {
    let name = &d.desc.outputs[0];
    let vars = d.vs.variables();
    let get = |what: &str| {
        vars.get(&format!("{name}.{what}")).ok_or_else(|| {
            EvolveError::BadInput(format!("model {}: no variable {name}.{what}", d.desc.name))
        })
    };
    let w = get("weight")?;
    let b = get("bias")?;
    let (c, dim) = (w.size()[0], w.size()[1]);
    Ok(z.linear(&w.reshape([c, dim]), Some(b)))
}

/// Mean L2 norm of `d`'s latents (the input of its heat-map head) at the centres of the pseudo
/// boxes of `labels` on `frames` (eval mode, no gradient); `None` without boxes.
pub fn box_latent_norm(d: &Detector, frames: &[Frame], labels: &[Labelled]) -> Result<Option<f64>> {
    if frames.len() != labels.len() {
        return Err(EvolveError::BadInput(format!(
            "latent norm of model {}: {} frames and {} labels (one label per frame needed)",
            d.desc.name,
            frames.len(),
            labels.len()
        )));
    }
    let keep = head_input(d)?;
    let boxes = pseudo_boxes(labels);
    let _guard = tch::no_grad_guard();
    let (mut sum, mut n) = (0.0, 0usize);
    let all: Vec<usize> = (0..frames.len()).collect();
    for group in super::distill::by_size(frames, &all) {
        for part in group.chunks(32) {
            let (h, w) = (frames[part[0]].height, frames[part[0]].width);
            let rgb: Vec<&[u8]> = part.iter().map(|&i| frames[i].rgb.as_slice()).collect();
            let (_, f) = d.forward_features(&d.batch_from_rgb_hw(&rgb, h, w), false, keep)?;
            let bx: Vec<Vec<GtBox>> = part.iter().map(|&i| boxes[i].clone()).collect();
            let grid = (f.size()[2] as usize, f.size()[3] as usize);
            let cells = super::feature_term::centre_cells(&bx, d.classes, grid, d.stride);
            if cells.is_empty() {
                continue;
            }
            sum += row_norms(&centre_latents(&f, &cells))
                .sum(Kind::Double)
                .double_value(&[]);
            n += cells.len();
        }
    }
    Ok((n > 0).then(|| sum / n as f64))
}

/// A map from `mid`'s latent space (the generator's) into `local`'s, fitted on their latents at
/// the centres of the pseudo boxes of `labels` on `frames` (eval mode, no gradient):
/// ridge regression with an intercept, `[z, 1] P ~ z_local`, `P` of shape [latent_mid + 1,
/// latent_local], the ridge `1e-3 * trace(Z^T Z) / latent_mid`. Labels are not used, only
/// where objects sit. Returns `P`, the terminal's mean latent norm there (the scale the
/// projected samples are set to) and the fit's R^2; `None` with fewer centres than
/// coordinates to fit.
pub fn latent_projection(
    mid: &Detector,
    local: &Detector,
    frames: &[Frame],
    labels: &[Labelled],
) -> Result<Option<(Tensor, f64, f64)>> {
    let (km, kl) = (head_input(mid)?, head_input(local)?);
    let boxes = pseudo_boxes(labels);
    let _guard = tch::no_grad_guard();
    let (mut zm, mut zl) = (Vec::new(), Vec::new());
    let all: Vec<usize> = (0..frames.len()).collect();
    for group in super::distill::by_size(frames, &all) {
        for part in group.chunks(32) {
            let (h, w) = (frames[part[0]].height, frames[part[0]].width);
            let rgb: Vec<&[u8]> = part.iter().map(|&i| frames[i].rgb.as_slice()).collect();
            let x = mid.batch_from_rgb_hw(&rgb, h, w);
            let (_, fm) = mid.forward_features(&x, false, km)?;
            let (_, fl) = local.forward_features(&x, false, kl)?;
            if fm.size()[2..] != fl.size()[2..] {
                return Err(EvolveError::BadInput(format!(
                    "latent projection: intermediate {}'s latent grid {:?} and terminal {}'s \
                     {:?} must agree",
                    mid.desc.name,
                    &fm.size()[2..],
                    local.desc.name,
                    &fl.size()[2..]
                )));
            }
            let bx: Vec<Vec<GtBox>> = part.iter().map(|&i| boxes[i].clone()).collect();
            let grid = (fm.size()[2] as usize, fm.size()[3] as usize);
            let cells = super::feature_term::centre_cells(&bx, mid.classes, grid, mid.stride);
            if cells.is_empty() {
                continue;
            }
            zm.push(centre_latents(&fm, &cells));
            zl.push(centre_latents(&fl, &cells));
        }
    }
    if zm.is_empty() {
        return Ok(None);
    }
    let (zm, zl) = (
        Tensor::cat(&zm, 0).to_kind(Kind::Double),
        Tensor::cat(&zl, 0).to_kind(Kind::Double),
    );
    let (n, dm) = (zm.size()[0], zm.size()[1]);
    if n <= dm + 1 {
        return Ok(None);
    }
    let x = Tensor::cat(&[&zm, &zm.ones_like().narrow(1, 0, 1)], 1);
    let xtx = x.transpose(0, 1).matmul(&x);
    let ridge = 1e-3 * zm.square().sum(Kind::Double).double_value(&[]) / dm as f64;
    let eye = Tensor::eye(dm + 1, (Kind::Double, x.device())) * ridge.max(1e-12);
    let p = Tensor::linalg_solve(&(xtx + eye), &x.transpose(0, 1).matmul(&zl), true);
    let resid = (x.matmul(&p) - &zl)
        .square()
        .sum(Kind::Double)
        .double_value(&[]);
    let centred = (&zl - zl.mean_dim([0i64].as_slice(), true, Kind::Double))
        .square()
        .sum(Kind::Double)
        .double_value(&[]);
    let r2 = 1.0 - resid / centred.max(f64::MIN_POSITIVE);
    let norm = row_norms(&zl).mean(Kind::Double).double_value(&[]);
    Ok(Some((p.to_kind(Kind::Float), norm, r2)))
}

/// Generated latents `z` [N, latent_mid] in the terminal's latent space: `[z, 1] P`, through a
/// ReLU (the terminal's latents are ReLU outputs), each row scaled to L2 norm `norm`.
pub fn project_samples(z: &Tensor, p: &Tensor, norm: f64) -> Tensor {
    let x = Tensor::cat(&[z, &z.ones_like().narrow(1, 0, 1)], 1);
    let y = x.matmul(p).relu();
    let n = row_norms(&y).unsqueeze(1);
    y * norm / (n + 1e-6)
}

/// The index of the layer the heat-map head reads (its first input): the latent space of the
/// generator.
fn head_input(d: &Detector) -> Result<usize> {
    let name = &d.desc.outputs[0];
    let input = d
        .desc
        .layers
        .iter()
        .find(|l| &l.name == name)
        .and_then(|l| l.inputs.first());
    input
        .and_then(|i| d.desc.layers.iter().position(|l| &l.name == i))
        .ok_or_else(|| {
            EvolveError::BadInput(format!(
                "model {}: the heat-map head `{name}` reads no layer of the model, so the \
                 generator's feature-level term has no latent to act on",
                d.desc.name
            ))
        })
}

/// Deep mutual learning of a terminal (`local`) and its intermediate (`mid`) on the terminal's
/// frames, following the global model's pseudo boxes `labels` (Eq. 14-15); with a generator,
/// `samples` generated latent vectors per step train the intermediate's head as well, their
/// classes drawn from `prior`.
pub fn train_pair(
    local: &mut Detector,
    mid: &mut Detector,
    frames: &[Frame],
    labels: &[Labelled],
    generator: Option<(&Generator, &[f64])>,
    cfg: &PairConfig,
) -> Result<PairReport> {
    train_pair_with_replay(local, mid, frames, labels, generator, &[], cfg)
}

/// `train_pair` where each intermediate step also fits `cfg.replay` frames drawn from
/// `source` (labelled frames of the global model's training domain) to their ground truth,
/// weighted by beta like its pseudo-label loss: rehearsal, so that the average of the
/// intermediates keeps what the global model knew.
pub fn train_pair_with_replay(
    local: &mut Detector,
    mid: &mut Detector,
    frames: &[Frame],
    labels: &[Labelled],
    generator: Option<(&Generator, &[f64])>,
    source: &[Frame],
    cfg: &PairConfig,
) -> Result<PairReport> {
    if cfg.replay > 0 && source.is_empty() {
        return Err(EvolveError::BadInput(format!(
            "mutual learning ({}): replay of {} source frames per step asked, none given",
            cfg.context, cfg.replay
        )));
    }
    if frames.is_empty() || frames.len() != labels.len() || cfg.steps == 0 || cfg.batch == 0 {
        return Err(EvolveError::BadInput(format!(
            "mutual learning ({}): {} frames, {} labels, {} steps, batch {}: needs one label \
             per frame, frames, steps and a batch",
            cfg.context,
            frames.len(),
            labels.len(),
            cfg.steps,
            cfg.batch
        )));
    }
    if local.classes != mid.classes {
        return Err(EvolveError::BadInput(format!(
            "mutual learning ({}): terminal {} has {} classes, intermediate {} has {}",
            cfg.context, local.desc.name, local.classes, mid.desc.name, mid.classes
        )));
    }
    let t0 = std::time::Instant::now();
    tch::manual_seed(cfg.seed as i64);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let adamw = tch::nn::AdamW {
        wd: 1e-4,
        ..Default::default()
    };
    let mut opt_local = adamw.build(&local.vs, cfg.lr)?;
    let mut opt_mid = adamw.build(&mid.vs, cfg.lr)?;
    let boxes = pseudo_boxes(labels);
    let warmup = (cfg.steps / 20).max(1);
    // The feature-level term: the class prototypes of the generator and the layer the heads
    // read. Drawn only when the term is on, so that runs without it draw what they drew.
    let feature = match generator {
        Some((gen, prior)) if cfg.feature > 0.0 => {
            let (protos, known) = super::feature_term::prototypes(gen, prior);
            Some((protos, known, head_input(mid)?))
        }
        _ => None,
    };
    // The terminal's share of the samples: the map into its latent, fitted once on the pair's
    // frames before either model moves.
    let proj = match generator {
        Some(_) if cfg.terminal > 0.0 && cfg.samples > 0 => {
            latent_projection(mid, local, frames, labels)?
        }
        _ => None,
    };
    let mut tces = Vec::new();
    mid.noise = (cfg.mu > 0.0)
        .then(|| WeightNoise::new(cfg.mu))
        .transpose()?;
    let (mut l_locals, mut l_mids) = (Vec::new(), Vec::new());
    // Diagnostics of the generator's two terms; reading them changes no result.
    let (mut ces, mut feats_l, mut norms) = (Vec::new(), Vec::new(), Vec::new());
    let result = (|| -> Result<()> {
        for step in 0..cfg.steps {
            let lr = lr_at(step, cfg.steps, warmup, cfg.lr);
            opt_local.set_lr(lr);
            opt_mid.set_lr(lr);
            let idx: Vec<usize> = (0..cfg.batch)
                .map(|_| rng.gen_range(0..frames.len()))
                .collect();
            // Grouped by frame size (adaptive compression, `compress`): one forward and
            // backward per size; the gradients are those of the frame-weighted mean losses.
            // Each model's loss follows the other's detached output, so the two backward
            // passes are independent.
            opt_local.zero_grad();
            opt_mid.zero_grad();
            let (mut vl, mut vm) = (0.0, 0.0);
            let mut vf = None;
            for (g, group) in super::distill::by_size(frames, &idx)
                .into_iter()
                .enumerate()
            {
                let (h, w) = (frames[group[0]].height, frames[group[0]].width);
                let share = group.len() as f64 / idx.len() as f64;
                let rgb: Vec<&[u8]> = group.iter().map(|&i| frames[i].rgb.as_slice()).collect();
                let x = local.batch_from_rgb_hw(&rgb, h, w);
                let out_local = local.forward(&x, true)?;
                // The intermediate keeps the global model's batch-norm statistics (eval-mode
                // normalisation, gradients still flow): trained on one stream each, their
                // running statistics would drift to that stream, and the average of a day and
                // a night intermediate's statistics fits neither (measured: docs/evolution.md).
                let (out_mid, feats) = match &feature {
                    Some((.., keep)) => {
                        let (o, f) = mid.forward_features(&x, !cfg.freeze_mid_bn, *keep)?;
                        (o, Some(f))
                    }
                    None => (mid.forward(&x, !cfg.freeze_mid_bn)?, None),
                };
                // The terminal's L_C follows the global model's soft outputs (as distillation
                // does); the intermediate's follows `cfg.labels`.
                let t = teacher_outputs(labels, &group, x.device());
                if t.hm.size() != out_local.hm.size() || t.hm.size() != out_mid.hm.size() {
                    return Err(EvolveError::BadInput(format!(
                        "mutual learning ({}): the labels' heat-map {:?}, terminal {}'s {:?} \
                         and intermediate {}'s {:?} must agree",
                        cfg.context,
                        t.hm.size(),
                        local.desc.name,
                        out_local.hm.size(),
                        mid.desc.name,
                        out_mid.hm.size()
                    )));
                }
                let lc_local = distill_loss(&out_local, &t, &cfg.peak_thresholds);
                let lc_mid = match cfg.labels {
                    PairLabels::Boxes => {
                        let bx: Vec<Vec<GtBox>> = group.iter().map(|&i| boxes[i].clone()).collect();
                        let grid = (t.hm.size()[2] as usize, t.hm.size()[3] as usize);
                        let t_mid = build_targets(&bx, mid.classes, grid, mid.stride, x.device());
                        detection_loss(&out_mid, &t_mid)
                    }
                    PairLabels::Soft => distill_loss(&out_mid, &t, &cfg.peak_thresholds),
                };
                let (l_local, l_mid) = mutual_losses(
                    &out_local.hm,
                    &out_mid.hm,
                    &lc_local,
                    &lc_mid,
                    cfg.alpha,
                    cfg.beta,
                );
                let mut l_local = l_local * share;
                let mut l_mid = l_mid * share;
                if let (Some((protos, known, _)), Some(f)) = (&feature, &feats) {
                    let bx: Vec<Vec<GtBox>> = group.iter().map(|&i| boxes[i].clone()).collect();
                    let grid = (f.size()[2] as usize, f.size()[3] as usize);
                    let cells =
                        super::feature_term::centre_cells(&bx, mid.classes, grid, mid.stride);
                    if let Some(lf) = super::feature_term::feature_loss(f, &cells, protos, known) {
                        *vf.get_or_insert(0.0) += lf.double_value(&[]) * share;
                        norms.push(tch::no_grad(|| {
                            row_norms(&centre_latents(f, &cells))
                                .mean(Kind::Float)
                                .double_value(&[])
                        }));
                        l_mid += lf * (cfg.feature * share);
                    }
                }
                // Replay and the generated samples join the first group's loss (once a step).
                if g == 0 && cfg.replay > 0 {
                    let picks: Vec<&Frame> = (0..cfg.replay)
                        .map(|_| &source[rng.gen_range(0..source.len())])
                        .collect();
                    let rgb: Vec<&[u8]> = picks.iter().map(|f| f.rgb.as_slice()).collect();
                    let xs = mid.batch_from_rgb(&rgb);
                    let out_src = mid.forward(&xs, !cfg.freeze_mid_bn)?;
                    let bx: Vec<Vec<GtBox>> = picks.iter().map(|f| f.boxes.clone()).collect();
                    let t_src =
                        build_targets(&bx, mid.classes, mid.grid(), mid.stride, xs.device());
                    l_mid += detection_loss(&out_src, &t_src) * cfg.beta;
                }
                if let (0, Some((gen, prior))) = (g, generator) {
                    if cfg.samples > 0 {
                        let y = super::generator::draw_labels(prior, cfg.samples, x.device());
                        let z = tch::no_grad(|| gen.sample(&y, false).1);
                        let ce = head_logits(mid, &z)?.cross_entropy_for_logits(&y);
                        ces.push(ce.double_value(&[]));
                        l_mid += ce * cfg.beta;
                        if let Some((p, norm, _)) = &proj {
                            let zt = project_samples(&z, p, *norm);
                            let ce = head_logits(local, &zt)?.cross_entropy_for_logits(&y);
                            tces.push(ce.double_value(&[]));
                            l_local += ce * (cfg.alpha * cfg.terminal);
                        }
                    }
                }
                let (gl, gm) = (
                    l_local.to_kind(Kind::Double).double_value(&[]),
                    l_mid.to_kind(Kind::Double).double_value(&[]),
                );
                for (v, who) in [(gl, &local.desc.name), (gm, &mid.desc.name)] {
                    if !v.is_finite() {
                        return Err(EvolveError::Fault(format!(
                            "model {who}: the mutual-learning loss is {v} at step {step} ({}); \
                             stopped",
                            cfg.context
                        )));
                    }
                }
                l_local.backward();
                l_mid.backward();
                vl += gl;
                vm += gm;
            }
            opt_local.step();
            opt_mid.step();
            l_locals.push(vl);
            l_mids.push(vm);
            feats_l.extend(vf);
        }
        Ok(())
    })();
    mid.noise = None;
    result?;
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    // Mean over the first and the last tenth of a series; none for an empty one.
    let ends = |s: &[f64]| {
        let tenth = (s.len() / 10).max(1);
        (!s.is_empty()).then(|| (mean(&s[..tenth]), mean(&s[s.len() - tenth..])))
    };
    let (local_first, local_last) = ends(&l_locals).expect("steps >= 1");
    let (mid_first, mid_last) = ends(&l_mids).expect("steps >= 1");
    Ok(PairReport {
        local_first,
        local_last,
        mid_first,
        mid_last,
        seconds: t0.elapsed().as_secs_f64(),
        sample_ce: ends(&ces),
        feature: ends(&feats_l),
        latent_norm: (!norms.is_empty()).then(|| mean(&norms)),
        terminal_ce: ends(&tces),
        projection_r2: proj.map(|p| p.2),
    })
}

/// ||a - b|| / ||b|| over the trainable parameters (same architecture): how far an
/// intermediate has moved from the global model.
pub fn relative_distance(a: &Detector, b: &Detector) -> Result<f64> {
    let (va, vb) = (a.vs.variables(), b.vs.variables());
    let (mut num, mut den) = (0.0, 0.0);
    let _g = tch::no_grad_guard();
    // In name order, so that the sums (and the figure) do not depend on the map's order.
    let mut names: Vec<&String> = vb.keys().collect();
    names.sort();
    for k in names {
        let tb = &vb[k];
        if !tb.requires_grad() {
            continue;
        }
        let ta = va.get(k).ok_or_else(|| {
            EvolveError::BadInput(format!(
                "models {} and {}: no variable {k} in the first",
                a.desc.name, b.desc.name
            ))
        })?;
        num += (ta - tb).square().sum(Kind::Double).double_value(&[]);
        den += tb.square().sum(Kind::Double).double_value(&[]);
    }
    Ok((num / den.max(f64::MIN_POSITIVE)).sqrt())
}

/// A fresh detector with `m`'s description (renamed `name`) and values.
pub fn copy_model(m: &Detector, name: &str) -> Result<Detector> {
    let mut desc = m.desc.clone();
    desc.name = name.to_string();
    let c = Detector::new(&desc, m.classes, m.vs.device())?;
    let src = m.vs.variables();
    let _g = tch::no_grad_guard();
    for (k, v) in c.vs.variables() {
        let mut v = v.shallow_clone();
        v.copy_(&src[&k]);
    }
    Ok(c)
}
