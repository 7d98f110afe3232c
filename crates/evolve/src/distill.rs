//! Distillation of a terminal on its own uploaded frames from the labeller's soft outputs
//! (heat-map, size, offset), computed once per frame when the global model labels the upload:
//! `train::loss::distill_loss` against those outputs, AdamW with the trainer's warm-up and
//! cosine schedule, batches drawn (seeded) from the uploaded frames.
//!
//! Options (`[distill]`): `soft` adds, on every heat-map cell, the Bernoulli KL divergence
//! from the teacher's probability to the student's (normalised like the focal loss, by the
//! teacher's peaks), so that the student learns the teacher's uncertainty and not only its
//! confident peaks; `augment` mirrors each drawn frame with probability 1/2 together with the
//! teacher's cached outputs (a centre at grid x = c + o, with cell c and offset o, mirrors to
//! cell G - 1 - c with offset 1 - o; sizes and the vertical offset stay) and jitters its
//! brightness and contrast (the teacher's outputs stay: they should not depend on either).

use super::error::{EvolveError, Result};
use ndarray::Array3;
use nestevo_couple::label::Labelled;
use nestevo_data::Frame;
use nestevo_train::detector::Detector;
use nestevo_train::loss::{distill_loss, peaks, HeadOut};
use nestevo_train::trainer::lr_at;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::nn::OptimizerConfig;
use tch::{Kind, Tensor};

#[derive(Debug, Clone)]
pub struct DistillConfig {
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    /// Teacher heat-map peaks at or above these probabilities (one for every class, or one
    /// per class) are the focal loss's positives: the experiment's pseudo-box thresholds.
    pub peak_thresholds: Vec<f64>,
    /// The per-cell soft term (see the module doc).
    pub soft: bool,
    /// Mirroring and photometric jitter (see the module doc).
    pub augment: bool,
    pub seed: u64,
    /// Where this job runs, for error messages (e.g. "window 2, terminal night").
    pub context: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DistillReport {
    /// Mean loss over the first and the last tenth of the steps.
    pub first_loss: f64,
    pub last_loss: f64,
    pub seconds: f64,
}

pub(crate) fn stack(arrays: &[&Array3<f32>], device: tch::Device) -> Tensor {
    let (c, h, w) = arrays[0].dim();
    let mut buf = Vec::with_capacity(arrays.len() * c * h * w);
    for a in arrays {
        buf.extend(a.iter().copied());
    }
    Tensor::from_slice(&buf)
        .reshape([arrays.len() as i64, c as i64, h as i64, w as i64])
        .to_device(device)
}

/// The labeller's soft outputs of frames `idx` as a batch of head outputs.
pub(crate) fn teacher_outputs(labels: &[Labelled], idx: &[usize], dev: tch::Device) -> HeadOut {
    let pick = |f: &dyn Fn(&Labelled) -> &Array3<f32>| {
        stack(&idx.iter().map(|&i| f(&labels[i])).collect::<Vec<_>>(), dev)
    };
    HeadOut {
        hm: pick(&|l| &l.soft.hm),
        wh: pick(&|l| &l.soft.wh),
        off: pick(&|l| &l.soft.off),
    }
}

/// `idx` split by frame size (height, width), each group in drawing order, groups in order of
/// first appearance.
pub(crate) fn by_size(frames: &[Frame], idx: &[usize]) -> Vec<Vec<usize>> {
    let mut groups: Vec<((usize, usize), Vec<usize>)> = Vec::new();
    for &i in idx {
        let key = (frames[i].height, frames[i].width);
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.1.push(i),
            None => groups.push((key, vec![i])),
        }
    }
    groups.into_iter().map(|g| g.1).collect()
}

/// Distils `student` on `frames`, following `labels[k]` on `frames[k]`.
pub fn distill(
    student: &mut Detector,
    frames: &[Frame],
    labels: &[Labelled],
    cfg: &DistillConfig,
) -> Result<DistillReport> {
    if frames.is_empty() || frames.len() != labels.len() || cfg.steps == 0 || cfg.batch == 0 {
        return Err(EvolveError::BadInput(format!(
            "distillation ({}): {} frames, {} labels, {} steps, batch {}: needs one label per \
             frame, frames, steps and a batch",
            cfg.context,
            frames.len(),
            labels.len(),
            cfg.steps,
            cfg.batch
        )));
    }
    let t0 = std::time::Instant::now();
    tch::manual_seed(cfg.seed as i64);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut opt = tch::nn::AdamW {
        wd: 1e-4,
        ..Default::default()
    }
    .build(&student.vs, cfg.lr)?;
    let dev = student.vs.device();
    let warmup = (cfg.steps / 20).max(1);
    let mut losses = Vec::with_capacity(cfg.steps);
    for step in 0..cfg.steps {
        opt.set_lr(lr_at(step, cfg.steps, warmup, cfg.lr));
        let idx: Vec<usize> = (0..cfg.batch)
            .map(|_| rng.gen_range(0..frames.len()))
            .collect();
        // Grouped by frame size (adaptive compression pools some frames, `compress`): one
        // forward and backward per size, so that only one size's graph is alive at a time;
        // the gradient is that of the frame-weighted mean of the groups' losses.
        opt.zero_grad();
        let mut v = 0.0;
        for group in by_size(frames, &idx) {
            let (h, w) = (frames[group[0]].height, frames[group[0]].width);
            let rgb: Vec<&[u8]> = group.iter().map(|&i| frames[i].rgb.as_slice()).collect();
            let x = student.batch_from_rgb_hw(&rgb, h, w);
            let teacher = teacher_outputs(labels, &group, dev);
            let (x, teacher) = if cfg.augment {
                augment(&x, teacher, &mut rng)
            } else {
                (x, teacher)
            };
            let out = student.forward(&x, true)?;
            if teacher.hm.size() != out.hm.size() {
                return Err(EvolveError::BadInput(format!(
                    "distillation ({}): the teacher's heat-map {:?} and model {}'s {:?} differ",
                    cfg.context,
                    teacher.hm.size(),
                    student.desc.name,
                    out.hm.size()
                )));
            }
            let mut loss = distill_loss(&out, &teacher, &cfg.peak_thresholds);
            if cfg.soft {
                loss += soft_cells(&out.hm, &teacher.hm, &cfg.peak_thresholds);
            }
            let loss = loss * (group.len() as f64 / idx.len() as f64);
            let lv = loss.to_kind(Kind::Double).double_value(&[]);
            if !lv.is_finite() {
                return Err(EvolveError::Fault(format!(
                    "model {}: the distillation loss is {lv} at step {step} ({}); stopped",
                    student.desc.name, cfg.context
                )));
            }
            loss.backward();
            v += lv;
        }
        opt.step();
        losses.push(v);
    }
    let tenth = (losses.len() / 10).max(1);
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    Ok(DistillReport {
        first_loss: mean(&losses[..tenth]),
        last_loss: mean(&losses[losses.len() - tenth..]),
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Sum over every heat-map cell and class of KL(Bernoulli(teacher) || Bernoulli(student)),
/// divided by the number of the teacher's peaks at or above `peak_thresholds` (one for every
/// class or one per class; at least 1 peak), as the focal loss is.
pub fn soft_cells(student_hm: &Tensor, teacher_hm: &Tensor, peak_thresholds: &[f64]) -> Tensor {
    let t = teacher_hm.detach().sigmoid();
    let peaks = peaks(&t, peak_thresholds)
        .to_kind(Kind::Float)
        .sum(Kind::Float)
        .clamp_min(1.0);
    let eps = 1e-6;
    let tc = t.clamp(eps, 1.0 - eps);
    // KL = t log t + (1 - t) log(1 - t) - [t log s + (1 - t) log(1 - s)]; the log-sigmoid
    // form of the cross term is stable for any logit.
    let tn: Tensor = 1.0 - &tc;
    let cross = &tc * student_hm.log_sigmoid() + &tn * (-student_hm).log_sigmoid();
    let ent = &tc * tc.log() + &tn * tn.log();
    (ent - cross).sum(Kind::Float) / peaks
}

/// Mirrors each frame of `x` [B, 3, H, W] with probability 1/2 (its teacher outputs with it)
/// and scales its contrast and brightness by factors drawn from [0.75, 1.25].
pub fn augment(x: &Tensor, t: HeadOut, rng: &mut ChaCha8Rng) -> (Tensor, HeadOut) {
    let b = x.size()[0];
    let dev = x.device();
    let flips: Vec<f32> = (0..b)
        .map(|_| if rng.gen_bool(0.5) { 1.0 } else { 0.0 })
        .collect();
    let jitter =
        |rng: &mut ChaCha8Rng| -> Vec<f32> { (0..b).map(|_| rng.gen_range(0.75..1.25)).collect() };
    let contrast = jitter(rng);
    let bright = jitter(rng);
    let col = |v: &[f32]| Tensor::from_slice(v).reshape([b, 1, 1, 1]).to_device(dev);
    let f = col(&flips);
    let mix = |a: &Tensor| a * (1.0 - &f) + a.flip([3]) * &f;
    let mean = x.mean_dim(&[1i64, 2, 3][..], true, Kind::Float);
    let xs = mix(x);
    let xs = (((&xs - &mean) * col(&contrast) + &mean) * col(&bright)).clamp(0.0, 1.0);
    let off_flipped = Tensor::cat(
        &[
            1.0 - t.off.narrow(1, 0, 1).flip([3]),
            t.off.narrow(1, 1, 1).flip([3]),
        ],
        1,
    );
    let off = &t.off * (1.0 - &f) + off_flipped * &f;
    (
        xs,
        HeadOut {
            hm: mix(&t.hm),
            wh: mix(&t.wh),
            off,
        },
    )
}
