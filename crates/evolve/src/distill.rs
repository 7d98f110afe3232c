//! Distillation of a terminal on its own uploaded frames from the labeller's soft outputs
//! (heat-map, size, offset), computed once per frame when the global model labels the upload:
//! `train::loss::distill_loss` against those outputs, AdamW with the trainer's warm-up and
//! cosine schedule, batches drawn (seeded) from the uploaded frames without mirroring (the
//! cached outputs belong to the frames as uploaded).

use super::error::{EvolveError, Result};
use ndarray::Array3;
use nestevo_couple::label::Labelled;
use nestevo_data::Frame;
use nestevo_train::detector::Detector;
use nestevo_train::loss::{distill_loss, HeadOut};
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
    /// Teacher heat-map peaks at or above this probability are the focal loss's positives
    /// (the pseudo-box threshold of the experiment).
    pub peak_threshold: f64,
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
            let out = student.forward(&x, true)?;
            let teacher = teacher_outputs(labels, &group, dev);
            if teacher.hm.size() != out.hm.size() {
                return Err(EvolveError::BadInput(format!(
                    "distillation ({}): the teacher's heat-map {:?} and model {}'s {:?} differ",
                    cfg.context,
                    teacher.hm.size(),
                    student.desc.name,
                    out.hm.size()
                )));
            }
            let loss = distill_loss(&out, &teacher, cfg.peak_threshold)
                * (group.len() as f64 / idx.len() as f64);
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
