//! Pretraining presets: the global detector and the terminal base on the source domain, then
//! M1/M2/M3 pruned 30/50/70 % from the base and fine-tuned; every model scored on the source
//! domain and on streams A, D and E (the Fig. 8 drift).

use super::checkpoint::{self, TrainState};
use super::detector::Detector;
use super::error::Result;
use super::evaluate::evaluate_frames;
use super::frames::{eval_frames, FramePool};
use super::prune::prune;
use super::trainer::{train, Objective, TrainConfig, TrainReport};
use nestevo_core::{check, invalid};
use nestevo_data::{Frame, StreamId, CLASSES};
use nestevo_eval::Interval;
use nestevo_model::{load_model, ModelDesc, Op};
use serde::Serialize;
use std::path::{Path, PathBuf};
use tch::Device;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Three-quarter-width models, a few hundred small batches: an end-to-end check that runs in CI.
    Smoke,
    /// The models of `models/`, trained for the pretrain table and shipped in
    /// `models/pretrained/`. The global model trains four times longer than the terminal base
    /// (2600 against 750 steps) so that it is a stronger teacher on every stream.
    Default,
}

/// The numbers of one preset.
#[derive(Debug, Clone)]
pub struct PresetConfig {
    pub width: f64,
    pub batch: usize,
    pub global_steps: usize,
    pub base_steps: usize,
    /// Fine-tuning steps of each pruned model.
    pub finetune_steps: usize,
    pub lr: f64,
    pub finetune_lr: f64,
    pub eval_frames: usize,
}

impl Preset {
    pub fn config(self) -> PresetConfig {
        match self {
            Preset::Smoke => PresetConfig {
                width: 0.75,
                batch: 16,
                global_steps: 200,
                base_steps: 300,
                finetune_steps: 60,
                lr: 4e-3,
                finetune_lr: 1e-3,
                eval_frames: 48,
            },
            Preset::Default => PresetConfig {
                width: 1.0,
                batch: 32,
                global_steps: 2600,
                base_steps: 750,
                finetune_steps: 600,
                lr: 3e-3,
                finetune_lr: 1.5e-3,
                eval_frames: 200,
            },
        }
    }
}

/// One row of the pretrain table.
#[derive(Debug, Clone, Serialize)]
pub struct ModelRow {
    pub model: String,
    pub params: i64,
    pub steps: usize,
    pub train_s: f64,
    pub frames_per_s: f64,
    pub first_loss: f64,
    pub last_loss: f64,
    /// mAP@0.5 of the model before its training (random weights, or just pruned).
    pub untrained_map50: f64,
    pub map50_source: f64,
    pub map_source: f64,
    pub map50_a: f64,
    pub map50_d: f64,
    pub map50_e: f64,
    /// 95 % bootstrap intervals of mAP@0.5 on source, A, D, E (over the held-out frames).
    pub map50_ci95: [Option<Interval>; 4],
}

#[derive(Debug, Clone, Serialize)]
pub struct PretrainReport {
    pub preset: String,
    pub device: String,
    pub threads: i32,
    pub eval_frames_per_stream: usize,
    pub total_s: f64,
    pub rows: Vec<ModelRow>,
}

pub struct PretrainOptions {
    pub preset: Preset,
    pub models_dir: PathBuf,
    pub out: PathBuf,
    pub seed: u64,
    pub device: Device,
    pub progress: bool,
    /// Keep finished checkpoints in `out` and continue unfinished ones.
    pub resume: bool,
    pub overrides: Overrides,
}

/// Preset numbers replaced from the command line.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub global_steps: Option<usize>,
    pub base_steps: Option<usize>,
    pub finetune_steps: Option<usize>,
    pub eval_frames: Option<usize>,
}

/// `desc` with every non-head conv's width multiplied by `f` (at least one channel).
pub fn scale_width(desc: &ModelDesc, f: f64) -> ModelDesc {
    let mut d = desc.clone();
    for l in &mut d.layers {
        if desc.outputs.contains(&l.name) {
            continue;
        }
        if let Op::Conv { out_channels, .. } = &mut l.op {
            *out_channels = ((*out_channels as f64 * f).round() as usize).max(1);
        }
    }
    d
}

struct EvalSets {
    source: Vec<Frame>,
    a: Vec<Frame>,
    d: Vec<Frame>,
    e: Vec<Frame>,
}

pub fn run(opts: &PretrainOptions) -> Result<PretrainReport> {
    let mut cfg = opts.preset.config();
    let o = &opts.overrides;
    cfg.global_steps = o.global_steps.unwrap_or(cfg.global_steps);
    cfg.base_steps = o.base_steps.unwrap_or(cfg.base_steps);
    cfg.finetune_steps = o.finetune_steps.unwrap_or(cfg.finetune_steps);
    cfg.eval_frames = o.eval_frames.unwrap_or(cfg.eval_frames);
    check!(
        cfg.global_steps > 0 && cfg.base_steps > 0 && cfg.finetune_steps > 0 && cfg.eval_frames > 0,
        "training steps and evaluation frames must be at least 1"
    );
    let started = std::time::Instant::now();
    let load = |file: &str| -> Result<ModelDesc> {
        let d = load_model(&opts.models_dir.join(file))?;
        Ok(if cfg.width == 1.0 {
            d
        } else {
            scale_width(&d, cfg.width)
        })
    };
    let global_desc = load("global.toml")?;
    let base_desc = load("terminal.toml")?;
    let sets = EvalSets {
        source: eval_frames(StreamId::Source, cfg.eval_frames),
        a: eval_frames(StreamId::A, cfg.eval_frames),
        d: eval_frames(StreamId::D, cfg.eval_frames),
        e: eval_frames(StreamId::E, cfg.eval_frames),
    };
    let mut rows = Vec::new();
    let job = |model: &mut Detector,
               steps: usize,
               lr: f64,
               k: u64,
               teacher: Option<&Detector>|
     -> Result<ModelRow> {
        run_one(
            model,
            steps,
            lr,
            opts,
            &cfg,
            opts.seed.wrapping_add(k),
            teacher,
            &sets,
        )
    };
    let mut global = Detector::new(&global_desc, CLASSES.len(), opts.device)?;
    rows.push(job(&mut global, cfg.global_steps, cfg.lr, 1, None)?);
    let mut base = Detector::new(&base_desc, CLASSES.len(), opts.device)?;
    rows.push(job(&mut base, cfg.base_steps, cfg.lr, 2, None)?);
    for (k, (name, ratio)) in [("M1", 0.3), ("M2", 0.5), ("M3", 0.7)]
        .into_iter()
        .enumerate()
    {
        let mut m = prune(&base, ratio, name)?;
        rows.push(job(
            &mut m,
            cfg.finetune_steps,
            cfg.finetune_lr,
            3 + k as u64,
            Some(&base),
        )?);
    }
    let report = PretrainReport {
        preset: format!("{:?}", opts.preset).to_lowercase(),
        device: format!("{:?}", opts.device),
        threads: tch::get_num_threads(),
        eval_frames_per_stream: cfg.eval_frames,
        total_s: started.elapsed().as_secs_f64(),
        rows,
    };
    let json = serde_json::to_string_pretty(&report).expect("a report always serialises");
    nestevo_core::error::write_atomic(&opts.out.join("pretrain.json"), json.as_bytes())?;
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn run_one(
    model: &mut Detector,
    steps: usize,
    lr: f64,
    opts: &PretrainOptions,
    cfg: &PresetConfig,
    seed: u64,
    teacher: Option<&Detector>,
    sets: &EvalSets,
) -> Result<ModelRow> {
    let name = model.desc.name.clone();
    let (weights, _, _) = checkpoint::paths(&opts.out, &name);
    let mut start_step = 0;
    let mut previous: Option<TrainState> = None;
    if opts.resume && weights.is_file() {
        let (m, state) = checkpoint::load(&weights, opts.device)?;
        if m.desc != model.desc {
            invalid!(
                "resume: checkpoint {} holds a different model than preset {:?} builds",
                weights.display(),
                opts.preset
            );
        }
        *model = m;
        start_step = state.as_ref().map_or(0, |s| s.step);
        previous = state;
    }
    let untrained = evaluate_frames(model, &sets.source)?.0.map50;
    let report = if start_step < steps {
        // A resumed run draws frames it has not seen rather than replaying the first ones.
        let mut pool = FramePool::new(
            StreamId::Source,
            seed.wrapping_add(start_step as u64 * 1_000_003),
        );
        let objective = match teacher {
            Some(t) => Objective::Distill {
                teacher: t,
                gt_weight: 0.5,
            },
            None => Objective::Supervised,
        };
        let tc = TrainConfig {
            steps,
            batch: cfg.batch,
            lr,
            weight_decay: 1e-4,
            warmup: (steps / 20).max(1),
            seed,
            checkpoint_dir: Some(opts.out.clone()),
            checkpoint_every: 200,
            start_step,
            progress: opts.progress,
        };
        train(model, &mut |n| pool.sample(n), &objective, &tc)?
    } else {
        let s = previous.unwrap_or_default();
        TrainReport {
            first_loss: f64::NAN,
            last_loss: s.last_loss,
            steps: 0,
            seconds: s.seconds,
            frames_per_s: f64::NAN,
        }
    };
    let score = |f: &[Frame]| evaluate_frames(model, f).map(|r| r.0);
    let src = score(&sets.source)?;
    let (a, d, e) = (score(&sets.a)?, score(&sets.d)?, score(&sets.e)?);
    Ok(ModelRow {
        model: name,
        params: model.params(),
        steps,
        train_s: report.seconds,
        frames_per_s: report.frames_per_s,
        first_loss: report.first_loss,
        last_loss: report.last_loss,
        untrained_map50: untrained,
        map50_source: src.map50,
        map_source: src.map,
        map50_a: a.map50,
        map50_d: d.map50,
        map50_e: e.map50,
        map50_ci95: [&src, &a, &d, &e].map(|r| r.ci95.map(|c| c.map50)),
    })
}

/// Where a preset's checkpoints go.
pub fn checkpoint_path(out: &Path, model: &str) -> PathBuf {
    checkpoint::paths(out, model).0
}
