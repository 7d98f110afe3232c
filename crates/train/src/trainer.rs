//! The training loop: supervised, on pseudo labels, or distilled from a teacher, with a
//! cosine learning-rate schedule, a progress bar, a NaN/Inf guard and periodic checkpoints.

use super::checkpoint::{self, TrainState};
use super::decode::{decode, DecodeConfig};
use super::detector::Detector;
use super::error::{Result, TrainError};
use super::loss::{build_targets, detection_loss, distill_loss};
use indicatif::{ProgressBar, ProgressStyle};
use nestevo_core::check;
use nestevo_data::{Frame, GtBox};
use std::path::PathBuf;
use std::time::Instant;
use tch::nn::OptimizerConfig;

/// What the model learns from.
pub enum Objective<'a> {
    /// The frames' ground-truth boxes.
    Supervised,
    /// The teacher's detections above `min_score`, as if they were ground truth.
    Pseudo {
        teacher: &'a Detector,
        min_score: f32,
    },
    /// The teacher's outputs (heat-map, size, offset), mixed with ground truth by `gt_weight`.
    Distill {
        teacher: &'a Detector,
        gt_weight: f64,
    },
}

#[derive(Debug, Clone)]
pub struct TrainConfig {
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    pub weight_decay: f64,
    /// Linear warm-up steps before the cosine decay.
    pub warmup: usize,
    pub seed: u64,
    /// Where to write checkpoints (every `checkpoint_every` steps and at the end).
    pub checkpoint_dir: Option<PathBuf>,
    pub checkpoint_every: usize,
    /// Steps already done (resume): the schedule continues from here.
    pub start_step: usize,
    pub progress: bool,
}

#[derive(Debug, Clone)]
pub struct TrainReport {
    /// Mean loss over the first and the last tenth of the run.
    pub first_loss: f64,
    pub last_loss: f64,
    pub steps: usize,
    pub seconds: f64,
    pub frames_per_s: f64,
}

/// Learning rate at `step` of `total`: linear warm-up, then cosine down to 2 % of the peak.
pub fn lr_at(step: usize, total: usize, warmup: usize, peak: f64) -> f64 {
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let t = (step - warmup) as f64 / (total.saturating_sub(warmup)).max(1) as f64;
    peak * (0.02 + 0.98 * 0.5 * (1.0 + (std::f64::consts::PI * t.min(1.0)).cos()))
}

pub fn train(
    model: &mut Detector,
    next_batch: &mut dyn FnMut(usize) -> Vec<Frame>,
    objective: &Objective,
    cfg: &TrainConfig,
) -> Result<TrainReport> {
    check!(
        cfg.batch > 0 && cfg.steps > 0,
        "training needs steps > 0 and batch > 0"
    );
    tch::manual_seed(cfg.seed as i64);
    let mut opt = tch::nn::AdamW {
        wd: cfg.weight_decay,
        ..Default::default()
    }
    .build(&model.vs, cfg.lr)?;
    let name = model.desc.name.clone();
    let bar = if cfg.progress {
        ProgressBar::new(cfg.steps as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>8} [{bar:30}] {pos}/{len} steps {msg} ({elapsed}, eta {eta})",
        )
        .expect("a fixed template")
        .progress_chars("=> "),
    );
    bar.set_prefix(name.clone());
    bar.set_position(cfg.start_step as u64);
    // indicatif draws nothing when stderr is not a terminal (a log file, nohup), so a run
    // there says where it is in plain lines, one per tenth of the steps.
    use std::io::IsTerminal;
    let log_every = if cfg.progress && !std::io::stderr().is_terminal() {
        Some((cfg.steps / 10).max(1))
    } else {
        None
    };
    let grid = model.grid();
    let start = Instant::now();
    let mut losses = Vec::with_capacity(cfg.steps);
    let mut frames_seen = 0usize;
    for step in cfg.start_step..cfg.steps {
        opt.set_lr(lr_at(step, cfg.steps, cfg.warmup, cfg.lr));
        let frames = next_batch(cfg.batch);
        for f in &frames {
            f.check_size(&name, model.desc.input)?;
        }
        let rgb: Vec<&[u8]> = frames.iter().map(|f| f.rgb.as_slice()).collect();
        let x = model.batch_from_rgb(&rgb);
        let out = model.forward(&x, true)?;
        let loss = match objective {
            Objective::Supervised => {
                let boxes: Vec<Vec<GtBox>> = frames.iter().map(|f| f.boxes.clone()).collect();
                let t = build_targets(&boxes, model.classes, grid, model.stride, x.device());
                detection_loss(&out, &t)
            }
            Objective::Pseudo { teacher, min_score } => {
                let boxes = pseudo_labels(teacher, &x, *min_score)?;
                let t = build_targets(&boxes, model.classes, grid, model.stride, x.device());
                detection_loss(&out, &t)
            }
            Objective::Distill { teacher, gt_weight } => {
                let t_out = tch::no_grad(|| teacher.forward(&x, false))?;
                let kd = distill_loss(&out, &t_out, &[0.3]);
                if *gt_weight > 0.0 {
                    let boxes: Vec<Vec<GtBox>> = frames.iter().map(|f| f.boxes.clone()).collect();
                    let t = build_targets(&boxes, model.classes, grid, model.stride, x.device());
                    let gt = detection_loss(&out, &t);
                    kd * (1.0 - gt_weight) + gt * *gt_weight
                } else {
                    kd
                }
            }
        };
        let v = loss.double_value(&[]);
        if !v.is_finite() {
            bar.abandon();
            return Err(TrainError::Diverged(format!("model {name}: the loss is {v} at step {step}; training stopped (lower the learning rate or check the data)")));
        }
        opt.backward_step(&loss);
        losses.push(v);
        frames_seen += frames.len();
        bar.inc(1);
        if step % 10 == 0 {
            bar.set_message(format!("loss {v:.3}"));
        }
        let done = step + 1;
        if log_every.is_some_and(|k| done % k == 0 || done == cfg.steps) {
            eprintln!(
                "{name}: step {done}/{}, loss {v:.4}, {:.0} s",
                cfg.steps,
                start.elapsed().as_secs_f64()
            );
        }
        if let Some(dir) = &cfg.checkpoint_dir {
            if done == cfg.steps || (cfg.checkpoint_every > 0 && done % cfg.checkpoint_every == 0) {
                let state = TrainState {
                    model: name.clone(),
                    step: done,
                    total_steps: cfg.steps,
                    seed: cfg.seed,
                    last_loss: v,
                    seconds: start.elapsed().as_secs_f64(),
                };
                checkpoint::save(model, dir, &state)?;
            }
        }
    }
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let tenth = (losses.len() / 10).max(1);
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len().max(1) as f64;
    Ok(TrainReport {
        first_loss: mean(&losses[..tenth.min(losses.len())]),
        last_loss: mean(&losses[losses.len().saturating_sub(tenth)..]),
        steps: losses.len(),
        seconds,
        frames_per_s: frames_seen as f64 / seconds.max(1e-9),
    })
}

/// The teacher's detections on a batch, as boxes.
pub fn pseudo_labels(
    teacher: &Detector,
    x: &tch::Tensor,
    min_score: f32,
) -> Result<Vec<Vec<GtBox>>> {
    let out = tch::no_grad(|| teacher.forward(x, false))?;
    let b = x.size()[0] as usize;
    let ids: Vec<u64> = (0..b as u64).collect();
    let [_, h, w] = teacher.input_chw();
    let cfg = DecodeConfig {
        min_score,
        stride: teacher.stride,
        ..Default::default()
    };
    let mut boxes = vec![Vec::new(); b];
    for d in decode(&out, &ids, (h, w), &cfg) {
        boxes[d.image_id as usize].push(GtBox {
            class: d.class,
            x0: d.x0,
            y0: d.y0,
            x1: d.x1,
            y1: d.y1,
        });
    }
    Ok(boxes)
}
