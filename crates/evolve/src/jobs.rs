//! Real runs of the scheduler's jobs (`sched::Job`): the training code lives here because the
//! scheduler's core has no LibTorch and never imports `evolve`.
//!
//! - `distill`: `distill::distill` of the job's first model (a fresh detector of that
//!   description) on `frames` rendered frames of stream D, following the shipped global
//!   checkpoint's soft outputs (labelled before the clock starts);
//! - `generator`: `generator::train_generator` against the heat-map heads of the job's models
//!   (noise 16, hidden 64, batch = the job's batch);
//! - `other`: plain detector training steps (detection loss on the frames' ground truth,
//!   AdamW), as `nestevo bench train-step` times;
//! - `mutual`: `coevolve::train_pair` of the job's two models (terminal, then a
//!   global-architecture intermediate) on the frames, following the teacher's soft outputs,
//!   Eq. 14-15 with a = 0.5, b = 0.8 and noise mu = 0.02 (the smoke preset's), no generator.
//!
//! Memory is measured on Linux as the process's resident-set growth over the job: the
//! resident set before the job's models are built (`VmRSS`), the peak reset just after
//! (`/proc/self/clear_refs` = 5), and `VmHWM` at the end; growth = `VmHWM - VmRSS_before`.

use super::coevolve::{train_pair, PairConfig};
use super::config::PairLabels;
use super::distill::{distill, DistillConfig};
use super::error::{EvolveError, Result};
use super::generator::{train_generator, GenConfig, Generator, Head};
use ndarray::Array3;
use nestevo_couple::label::{Labelled, SoftOutputs};
use nestevo_data::{Frame, GtBox, StreamId, CLASSES};
use nestevo_model::{load_model, ModelDesc};
use nestevo_sched::{Job, JobKind, Work};
use nestevo_train::detector::Detector;
use nestevo_train::frames::FramePool;
use nestevo_train::loss::{build_targets, detection_loss};
use std::path::Path;
use std::time::Instant;
use tch::nn::OptimizerConfig;
use tch::{Device, Kind, Tensor};

/// Noise and hidden width of the generator jobs (the experiment presets' values).
pub const GEN_NOISE: usize = 16;
pub const GEN_HIDDEN: usize = 64;

/// What a real run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunOutcome {
    pub seconds: f64,
    /// CPU time of the process's threads over the job (s), from /proc/self/task/*/schedstat;
    /// on a shared machine it varies far less than the wall time. 0 where /proc is missing.
    pub cpu_seconds: f64,
    /// Resident-set growth over the job (MB); 0 where /proc is missing.
    pub peak_mb: f64,
}

/// (VmRSS, VmHWM) of this process in MB, from /proc/self/status.
pub fn rss_mb() -> Option<(f64, f64)> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Resets the process's peak resident set to its current one (Linux 4.0+).
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The latent width and classes of a detector's heat-map head (the generator's output).
fn head_latent(desc: &ModelDesc) -> Result<usize> {
    let d = Detector::new(desc, CLASSES.len(), Device::Cpu)?;
    Ok(Head::of(&d)?.latent_dim())
}

/// The work of a generator job against heads of `latent` inputs.
pub fn generator_work(latent: usize, heads: usize, steps: usize, batch: usize) -> Work {
    let (n, c, h) = (GEN_NOISE as f64, CLASSES.len() as f64, GEN_HIDDEN as f64);
    let l = latent as f64;
    Work {
        params: (n + c) * h + h + 2.0 * h + h * l + l,
        macs_per_frame: (n + c) * h + h * l + heads as f64 * l * c,
        act_per_frame: n + c + 3.0 * h + l + heads as f64 * c,
        frames: batch as f64,
        steps: steps as f64,
        batch: batch as f64,
    }
}

/// The work of a job training `models` (descriptions) on `frames`, or of a generator job.
pub fn job_work(
    kind: JobKind,
    models: &[&Path],
    frames: usize,
    steps: usize,
    batch: usize,
) -> Result<Work> {
    match kind {
        JobKind::Generator => {
            let d = load_model(models[0]).map_err(|e| EvolveError::BadInput(e.to_string()))?;
            Ok(generator_work(head_latent(&d)?, models.len(), steps, batch))
        }
        _ => Work::of_models(models, frames as f64, steps as f64, batch as f64)
            .map_err(|e| EvolveError::BadInput(e.to_string())),
    }
}

fn frames_of(n: usize, seed: u64) -> Vec<Frame> {
    FramePool::new(StreamId::D, seed).sample(n)
}

fn soft_labels(teacher: &Detector, frames: &[Frame]) -> Result<Vec<Labelled>> {
    let mut out = Vec::with_capacity(frames.len());
    for chunk in frames.chunks(16) {
        let rgb: Vec<&[u8]> = chunk.iter().map(|f| f.rgb.as_slice()).collect();
        let x = teacher.batch_from_rgb(&rgb);
        let h = tch::no_grad(|| teacher.forward(&x, false))?;
        let arr = |t: &Tensor, k: i64| -> Result<Array3<f32>> {
            let t = t.get(k).to_kind(Kind::Float).contiguous();
            let s: Vec<usize> = t.size().iter().map(|&v| v as usize).collect();
            let v = Vec::<f32>::try_from(t.flatten(0, -1))?;
            Array3::from_shape_vec((s[0], s[1], s[2]), v)
                .map_err(|e| EvolveError::Fault(e.to_string()))
        };
        for (k, f) in chunk.iter().enumerate() {
            out.push(Labelled {
                frame: f.index,
                boxes: Vec::new(),
                soft: SoftOutputs {
                    hm: arr(&h.hm, k as i64)?,
                    wh: arr(&h.wh, k as i64)?,
                    off: arr(&h.off, k as i64)?,
                    stride: teacher.stride,
                },
                features: None,
            });
        }
    }
    Ok(out)
}

/// A job's data, made before its clock starts: its frames and, for distillation, the
/// teacher's soft outputs on them (in the evolution loop the global model labels an upload
/// once, outside the training jobs).
pub struct Prepared {
    descs: Vec<ModelDesc>,
    frames: Vec<Frame>,
    labels: Vec<Labelled>,
}

/// Loads the job's descriptions and renders (and, for distillation, labels) its frames.
pub fn prepare(job: &Job, teacher: &Path, seed: u64, device: Device) -> Result<Prepared> {
    let w = job.work.ok_or_else(|| {
        EvolveError::BadInput(format!(
            "job `{}`: a real run needs a described job (models, frames, steps, batch)",
            job.id
        ))
    })?;
    if job.models.is_empty() {
        return Err(EvolveError::BadInput(format!(
            "job `{}`: a real run needs `models`",
            job.id
        )));
    }
    let descs = job
        .models
        .iter()
        .map(|m| load_model(Path::new(m)))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| EvolveError::BadInput(e.to_string()))?;
    let (frames, labels) = match job.kind {
        JobKind::Distill | JobKind::Mutual => {
            if job.kind == JobKind::Mutual && descs.len() != 2 {
                return Err(EvolveError::BadInput(format!(
                    "job `{}`: a mutual-learning job trains two models (terminal, intermediate), got {}",
                    job.id,
                    descs.len()
                )));
            }
            let frames = frames_of(w.frames as usize, seed);
            let (t, _) = nestevo_train::checkpoint::load(teacher, device)?;
            let labels = soft_labels(&t, &frames)?;
            (frames, labels)
        }
        JobKind::Other => (frames_of(w.frames as usize, seed), Vec::new()),
        _ => (Vec::new(), Vec::new()),
    };
    Ok(Prepared {
        descs,
        frames,
        labels,
    })
}

/// Runs `job` for real: `prepare`, then `train`.
pub fn run_job(job: &Job, teacher: &Path, seed: u64, device: Device) -> Result<RunOutcome> {
    let p = prepare(job, teacher, seed, device)?;
    train(job, &p, seed, device)
}

/// Trains a prepared job, timing and measuring the training alone (models built inside).
pub fn train(job: &Job, p: &Prepared, seed: u64, device: Device) -> Result<RunOutcome> {
    let w = job.work.expect("prepared");
    let (descs, frames, labels) = (&p.descs, &p.frames, &p.labels);
    let (steps, batch) = (w.steps as usize, w.batch as usize);
    tch::manual_seed(seed as i64);
    match job.kind {
        JobKind::Distill => {
            let before = start_measure();
            let mut student = Detector::new(&descs[0], CLASSES.len(), device)?;
            let cfg = DistillConfig {
                steps,
                batch,
                lr: 1e-3,
                // The value distillation used before it became an experiment setting.
                peak_thresholds: vec![0.3],
                soft: false,
                augment: false,
                seed,
                context: format!("job {}", job.id),
            };
            let t0 = Instant::now();
            distill(&mut student, frames, labels, &cfg)?;
            Ok(end_measure(before, t0))
        }
        JobKind::Other => {
            let before = start_measure();
            let model = Detector::new(&descs[0], CLASSES.len(), device)?;
            let mut opt = tch::nn::AdamW::default().build(&model.vs, 1e-3)?;
            let t0 = Instant::now();
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            for _ in 0..steps {
                use rand::Rng;
                let idx: Vec<usize> = (0..batch).map(|_| rng.gen_range(0..frames.len())).collect();
                let rgb: Vec<&[u8]> = idx.iter().map(|&i| frames[i].rgb.as_slice()).collect();
                let boxes: Vec<Vec<GtBox>> = idx.iter().map(|&i| frames[i].boxes.clone()).collect();
                let x = model.batch_from_rgb(&rgb);
                let t = build_targets(&boxes, model.classes, model.grid(), model.stride, device);
                let out = model.forward(&x, true)?;
                opt.backward_step(&detection_loss(&out, &t));
            }
            Ok(end_measure(before, t0))
        }
        JobKind::Generator => {
            let before = start_measure();
            let dets = descs
                .iter()
                .map(|d| Detector::new(d, CLASSES.len(), device))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let heads = dets.iter().map(Head::of).collect::<Result<Vec<_>>>()?;
            let latent = heads[0].latent_dim();
            let mut g = Generator::new(GEN_NOISE, GEN_HIDDEN, latent, CLASSES.len(), device);
            let counts: Vec<Vec<usize>> = (0..heads.len())
                .map(|k| (0..CLASSES.len()).map(|c| 5 + (k + c) % 7).collect())
                .collect();
            let cfg = GenConfig {
                steps,
                batch: batch.max(2),
                lr: 1e-3,
                diversity: 1.0,
                seed,
            };
            let t0 = Instant::now();
            train_generator(&mut g, &heads, &counts, &cfg)?;
            Ok(end_measure(before, t0))
        }
        JobKind::Mutual => {
            let before = start_measure();
            let mut local = Detector::new(&descs[0], CLASSES.len(), device)?;
            let mut mid = Detector::new(&descs[1], CLASSES.len(), device)?;
            let cfg = PairConfig {
                steps,
                batch,
                lr: 1e-3,
                alpha: 0.5,
                beta: 0.8,
                mu: 0.02,
                samples: 0,
                feature: 0.0,
                terminal: 0.0,
                labels: PairLabels::Soft,
                freeze_mid_bn: false,
                peak_thresholds: vec![0.3],
                replay: 0,
                seed,
                context: format!("job {}", job.id),
            };
            let t0 = Instant::now();
            train_pair(&mut local, &mut mid, frames, labels, None, &cfg)?;
            Ok(end_measure(before, t0))
        }
    }
}

use rand::SeedableRng;

/// CPU time (s) of all this process's threads so far.
pub fn cpu_seconds() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("schedstat")).ok())
        .filter_map(|s| {
            s.split_whitespace()
                .next()
                .and_then(|v| v.parse::<f64>().ok())
        })
        .sum::<f64>()
        / 1e9
}

pub struct Before {
    rss: Option<f64>,
    cpu: f64,
}

pub fn start_measure() -> Before {
    let rss = rss_mb().map(|r| r.0);
    reset_peak();
    Before {
        rss,
        cpu: cpu_seconds(),
    }
}

pub fn end_measure(before: Before, t0: Instant) -> RunOutcome {
    let seconds = t0.elapsed().as_secs_f64();
    let cpu_seconds = (cpu_seconds() - before.cpu).max(0.0);
    let peak_mb = match (before.rss, rss_mb()) {
        (Some(b), Some((_, hwm))) => (hwm - b).max(0.0),
        _ => 0.0,
    };
    RunOutcome {
        seconds,
        cpu_seconds,
        peak_mb,
    }
}
