//! Baseline A1 of Table 4: adversarial domain adaptation (DANN, Ganin and Lempitsky, ICML
//! 2015) of a terminal, with no global model in the loop. The terminal trains on labelled
//! source-domain frames (the edge holds the global model's training data) with the supervised
//! CenterNet loss, while a domain classifier on its features (the layer the drift statistic
//! reads, averaged over the frame) learns to tell source frames from the terminal's own
//! unlabelled uploads; a gradient-reversal layer between them pushes the features to make the
//! two domains indistinguishable:
//!
//! `L = L_det(source) + BCE(D(R(f(source))), 0) + BCE(D(R(f(target))), 1)`,
//! `R(x) = x` forward and `-lambda dR/dx` backward, lambda rising as
//! `2 / (1 + exp(-10 p)) - 1` over the run's progress p (DANN's schedule).

use super::error::{EvolveError, Result};
use nestevo_data::{Frame, GtBox};
use nestevo_train::detector::Detector;
use nestevo_train::loss::{build_targets, detection_loss};
use nestevo_train::trainer::lr_at;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Kind, Tensor};

#[derive(Debug, Clone)]
pub struct AdaptConfig {
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    /// The terminal's layer whose features the domain classifier reads.
    pub layer: String,
    pub seed: u64,
    pub context: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AdaptReport {
    /// Mean detection and domain losses over the last tenth of the steps.
    pub det_last: f64,
    pub domain_last: f64,
    pub seconds: f64,
}

/// Identity forward, gradient times `-lambda` backward.
pub fn reverse_gradient(x: &Tensor, lambda: f64) -> Tensor {
    // x - x.detach() is exactly 0 forward and has gradient 1.
    x.detach() + (x - x.detach()) * (-lambda)
}

/// Adapts `model` from `source` (labelled) to `target` (its uploads, labels unused).
pub fn adapt(
    model: &mut Detector,
    source: &[Frame],
    target: &[Frame],
    cfg: &AdaptConfig,
) -> Result<AdaptReport> {
    if source.is_empty() || target.is_empty() || cfg.steps == 0 || cfg.batch == 0 {
        return Err(EvolveError::BadInput(format!(
            "adaptation ({}): {} source frames, {} target frames, {} steps, batch {}: all \
             must be positive",
            cfg.context,
            source.len(),
            target.len(),
            cfg.steps,
            cfg.batch
        )));
    }
    let keep = model.desc.index_of(&cfg.layer).ok_or_else(|| {
        EvolveError::BadInput(format!(
            "adaptation ({}): model {} has no layer `{}`",
            cfg.context, model.desc.name, cfg.layer
        ))
    })?;
    let t0 = std::time::Instant::now();
    tch::manual_seed(cfg.seed as i64);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let dev = model.vs.device();
    let width = model
        .desc
        .shapes()
        .map_err(|x| EvolveError::BadInput(x.to_string()))?[keep][0] as i64;
    let dvs = nn::VarStore::new(dev);
    let p = dvs.root();
    let classifier = nn::seq()
        .add(nn::linear(&p / "d1", width, 32, Default::default()))
        .add_fn(|x| x.relu())
        .add(nn::linear(&p / "d2", 32, 1, Default::default()));
    let adamw = nn::AdamW {
        wd: 1e-4,
        ..Default::default()
    };
    let mut opt = adamw.build(&model.vs, cfg.lr)?;
    let mut opt_d = adamw.build(&dvs, cfg.lr)?;
    let warmup = (cfg.steps / 20).max(1);
    let (mut dets, mut doms) = (Vec::new(), Vec::new());
    for step in 0..cfg.steps {
        let lr = lr_at(step, cfg.steps, warmup, cfg.lr);
        opt.set_lr(lr);
        opt_d.set_lr(lr);
        let progress = step as f64 / cfg.steps as f64;
        let lambda = 2.0 / (1.0 + (-10.0 * progress).exp()) - 1.0;
        let pick = |rng: &mut ChaCha8Rng, fs: &[Frame]| -> Vec<usize> {
            (0..cfg.batch).map(|_| rng.gen_range(0..fs.len())).collect()
        };
        let (si, ti) = (pick(&mut rng, source), pick(&mut rng, target));
        let rgb: Vec<&[u8]> = si
            .iter()
            .map(|&i| source[i].rgb.as_slice())
            .chain(ti.iter().map(|&i| target[i].rgb.as_slice()))
            .collect();
        let x = model.batch_from_rgb(&rgb);
        let (out, feat) = model.forward_features(&x, true, keep)?;
        let b = cfg.batch as i64;
        let boxes: Vec<Vec<GtBox>> = si.iter().map(|&i| source[i].boxes.clone()).collect();
        let src_out = nestevo_train::loss::HeadOut {
            hm: out.hm.narrow(0, 0, b),
            wh: out.wh.narrow(0, 0, b),
            off: out.off.narrow(0, 0, b),
        };
        let t = build_targets(&boxes, model.classes, model.grid(), model.stride, dev);
        let det = detection_loss(&src_out, &t);
        let pooled = feat.mean_dim([2i64, 3].as_slice(), false, Kind::Float);
        let logits = classifier
            .forward(&reverse_gradient(&pooled, lambda))
            .squeeze_dim(1);
        let domain = Tensor::cat(
            &[
                Tensor::zeros([b], (Kind::Float, dev)),
                Tensor::ones([b], (Kind::Float, dev)),
            ],
            0,
        );
        let dom = logits.binary_cross_entropy_with_logits::<Tensor>(
            &domain,
            None,
            None,
            tch::Reduction::Mean,
        );
        let loss = &det + &dom;
        let v = loss.to_kind(Kind::Double).double_value(&[]);
        if !v.is_finite() {
            return Err(EvolveError::Fault(format!(
                "model {}: the adaptation loss is {v} at step {step} ({}); stopped",
                model.desc.name, cfg.context
            )));
        }
        opt.zero_grad();
        opt_d.zero_grad();
        loss.backward();
        opt.step();
        opt_d.step();
        dets.push(det.double_value(&[]));
        doms.push(dom.double_value(&[]));
    }
    let tenth = (dets.len() / 10).max(1);
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    Ok(AdaptReport {
        det_last: mean(&dets[dets.len() - tenth..]),
        domain_last: mean(&doms[doms.len() - tenth..]),
        seconds: t0.elapsed().as_secs_f64(),
    })
}
