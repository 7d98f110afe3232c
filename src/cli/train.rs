//! `nestevo pretrain` and `nestevo eval`.

use super::args::{HeldOutArgs, NoiseArgs};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
#[cfg_attr(not(feature = "torch"), allow(dead_code))]
pub struct PretrainArgs {
    /// `smoke`: tiny models and few steps (an end-to-end check); `default`: the pretrain table.
    #[arg(long, default_value = "default", value_parser = ["smoke", "default"])]
    preset: String,
    /// Folder for checkpoints (NAME.safetensors + NAME.toml + NAME.state.json) and pretrain.json.
    #[arg(long, default_value = "runs/pretrain")]
    out: PathBuf,
    /// Folder holding global.toml and terminal.toml.
    #[arg(long, default_value = "models")]
    models: PathBuf,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Keep finished checkpoints in --out and continue unfinished ones.
    #[arg(long)]
    resume: bool,
    /// Train on the CPU even when a GPU is present.
    #[arg(long)]
    cpu: bool,
    /// Print the table as JSON.
    #[arg(long)]
    json: bool,
    /// CPU threads for LibTorch (default: its own choice, one per core). On a busy machine
    /// fewer threads than cores run much faster (its workers spin at barriers).
    #[arg(long)]
    threads: Option<i32>,
    /// Override the preset's training steps of the global model, the terminal base, and each
    /// pruned model's fine-tuning.
    #[arg(long)]
    global_steps: Option<usize>,
    #[arg(long)]
    base_steps: Option<usize>,
    #[arg(long)]
    finetune_steps: Option<usize>,
    /// Held-out frames per stream for the table.
    #[arg(long)]
    eval_frames: Option<usize>,
}

#[derive(Args)]
#[cfg_attr(not(feature = "torch"), allow(dead_code))]
#[cfg_attr(feature = "torch", command(group = clap::ArgGroup::new("frames_from").required(true).args(["stream", "frames_dir"])))]
pub struct EvalArgs {
    /// Checkpoint NAME.safetensors (NAME.toml must lie beside it).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Held-out frames of a rendered stream (default 300, one every 2 s of stream time).
    #[command(flatten)]
    frames: HeldOutArgs,
    /// A folder of PNG frames with COCO-style labels (instead of --stream).
    #[arg(long)]
    frames_dir: Option<PathBuf>,
    /// The trainer's fast Eq. 18-20 weight noise in the forward pass (--noise weight --mu MU).
    #[command(flatten)]
    noise: NoiseArgs,
    /// Write the detections in the COCO results format.
    #[arg(long)]
    predictions_out: Option<PathBuf>,
    /// Print JSON (map50, map75, map, per-class AP50, 95 % intervals).
    #[arg(long)]
    json: bool,
    #[arg(long)]
    cpu: bool,
    /// CPU threads for LibTorch (default: one per core).
    #[arg(long)]
    threads: Option<i32>,
}

/// `nestevo bench train-step`: ms per training step of a detector (benches/train_speed.sh).
#[derive(Args)]
#[cfg_attr(not(feature = "torch"), allow(dead_code))]
pub struct TrainStepArgs {
    /// Model description of the detector.
    #[arg(long, default_value = "models/terminal.toml")]
    model: PathBuf,
    /// Timed steps (after warm-up).
    #[arg(long, default_value_t = 30)]
    steps: usize,
    #[arg(long, default_value_t = 32)]
    batch: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long)]
    cpu: bool,
    #[arg(long)]
    threads: Option<i32>,
}

#[cfg(not(feature = "torch"))]
super::needs_torch! {
    pretrain(PretrainArgs) => "pretrain";
    eval(EvalArgs) => "eval";
    train_step(TrainStepArgs) => "bench train-step";
}

#[cfg(feature = "torch")]
pub use with_torch::{eval, pretrain, train_step};

#[cfg(feature = "torch")]
mod with_torch {
    use super::super::args::set_threads;
    use super::{EvalArgs, PretrainArgs, TrainStepArgs};
    use anyhow::{Context, Result};
    use nestevo_cim::NoiseMode;
    use nestevo_data::{read_frames_dir, Frame, CLASSES};
    use nestevo_eval::{heldout::DEFAULT_FRAMES, with_ci};
    use nestevo_experiments::train_bench as bench;
    use nestevo_train::{checkpoint, evaluate, noise::WeightNoise, pretrain};
    use serde_json::json;
    use tch::Device;

    fn device(cpu: bool) -> Device {
        if cpu {
            Device::Cpu
        } else {
            Device::cuda_if_available()
        }
    }

    pub fn pretrain(a: PretrainArgs) -> Result<()> {
        set_threads(a.threads)?;
        std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
        let opts = pretrain::PretrainOptions {
            preset: if a.preset == "smoke" {
                pretrain::Preset::Smoke
            } else {
                pretrain::Preset::Default
            },
            models_dir: a.models,
            out: a.out.clone(),
            seed: a.seed,
            device: device(a.cpu),
            progress: !a.json,
            resume: a.resume,
            overrides: pretrain::Overrides {
                global_steps: a.global_steps,
                base_steps: a.base_steps,
                finetune_steps: a.finetune_steps,
                eval_frames: a.eval_frames,
            },
        };
        let r = pretrain::run(&opts)?;
        if a.json {
            println!("{}", serde_json::to_string_pretty(&r)?);
            return Ok(());
        }
        println!(
            "pretrain preset {} on {} ({} threads), mAP@0.5 [95 % bootstrap interval] on {} held-out frames per stream (one every 2 s)",
            r.preset, r.device, r.threads, r.eval_frames_per_stream
        );
        println!(
            "| model  | params | steps | train (s) | frames/s | loss first -> last | untrained mAP@0.5 | source mAP@0.5 | source mAP@[.5:.95] | A mAP@0.5 | D mAP@0.5 | E mAP@0.5 |"
        );
        println!("|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|");
        for m in &r.rows {
            let ci = |v: f64, k: usize| with_ci(v, m.map50_ci95[k]);
            println!(
                "| {:6} | {:>6} | {:>5} | {:>9.1} | {:>8.1} | {:.3} -> {:.3} | {:.3} | {} | {:.3} | {} | {} | {} |",
                m.model, m.params, m.steps, m.train_s, m.frames_per_s, m.first_loss, m.last_loss,
                m.untrained_map50, ci(m.map50_source, 0), m.map_source, ci(m.map50_a, 1),
                ci(m.map50_d, 2), ci(m.map50_e, 3)
            );
        }
        println!(
            "total {:.1} s; checkpoints and pretrain.json in {}",
            r.total_s,
            a.out.display()
        );
        Ok(())
    }

    pub fn eval(a: EvalArgs) -> Result<()> {
        set_threads(a.threads)?;
        let (mut model, _) = checkpoint::load(&a.checkpoint, device(a.cpu))?;
        anyhow::ensure!(
            a.noise.noise != NoiseMode::Cell,
            "--noise cell: the trainer models weight-level noise only; allowed here: none, weight \
             (cell-level noise is simulated by `nestevo cim run`)"
        );
        let noise = a.noise.spec(0.0)?;
        if noise.mode == NoiseMode::Weight {
            model.noise = Some(WeightNoise::new(noise.mu)?);
        }
        tch::manual_seed(noise.seed as i64);
        let [_, h, w] = model.desc.input;
        let (frames, source): (Vec<Frame>, String) = match (&a.frames.stream, &a.frames_dir) {
            (Some(id), _) => {
                let set = a.frames.held_out(*id, DEFAULT_FRAMES)?;
                (set.render(w, h)?, set.describe())
            }
            (None, Some(dir)) => (read_frames_dir(dir)?, format!("folder {}", dir.display())),
            (None, None) => anyhow::bail!("give --stream S or --frames-dir DIR"),
        };
        anyhow::ensure!(!frames.is_empty(), "no frames to score in {source}");
        // A folder without labels has nothing to score against: every mAP would read 0.
        let unlabelled = a
            .frames_dir
            .as_ref()
            .filter(|_| a.frames.stream.is_none())
            .filter(|d| !d.join(nestevo_data::ANNOTATIONS).is_file());
        if let Some(dir) = unlabelled {
            let p = a.predictions_out.as_ref().with_context(|| {
                format!(
                    "--frames-dir {}: no {} (COCO labels), so nothing to score; give \
                     --predictions-out FILE to write the detections",
                    dir.display(),
                    nestevo_data::ANNOTATIONS
                )
            })?;
            let (_, dets) =
                evaluate::evaluate_frames(&model, &frames).with_context(|| source.clone())?;
            nestevo_eval::write_coco_results(p, &dets)?;
            println!(
                "{} detections on {} frames of {source} written to {} (no {}: nothing scored)",
                dets.len(),
                frames.len(),
                p.display(),
                nestevo_data::ANNOTATIONS
            );
            return Ok(());
        }
        let (r, dets) =
            evaluate::evaluate_frames(&model, &frames).with_context(|| source.clone())?;
        if let Some(p) = &a.predictions_out {
            nestevo_eval::write_coco_results(p, &dets)?;
        }
        let per_class: serde_json::Map<_, _> = CLASSES
            .iter()
            .zip(&r.ap50_per_class)
            .map(|(c, v)| (c.to_string(), json!(v)))
            .collect();
        if a.json {
            let j = json!({"checkpoint": a.checkpoint, "model": model.desc.name, "frames": frames.len(),
                "source": source, "noise": noise.mode, "mu": noise.mu,
                "map50": r.map50, "map75": r.map75, "map": r.map, "map50_voc": r.map50_voc,
                "ci95": r.ci95,
                "per_class_ap50": per_class, "gt_boxes": r.gt_boxes, "detections": r.detections});
            println!("{}", serde_json::to_string_pretty(&j)?);
        } else {
            println!(
                "model {} on {source}, weight noise mu = {}",
                model.desc.name, noise.mu
            );
            println!("| metric | value [95 % bootstrap interval over frames] |\n|---|---:|");
            let ci = r.ci95;
            println!(
                "| mAP@0.5 | {} |\n| mAP@0.75 | {} |\n| mAP@[.5:.95] | {} |",
                with_ci(r.map50, ci.map(|c| c.map50)),
                with_ci(r.map75, ci.map(|c| c.map75)),
                with_ci(r.map, ci.map(|c| c.map))
            );
            for (c, v) in CLASSES.iter().zip(&r.ap50_per_class) {
                match v {
                    Some(v) => println!("| AP@0.5 {c} | {v:.4} |"),
                    None => println!("| AP@0.5 {c} | no ground truth |"),
                }
            }
        }
        Ok(())
    }

    pub fn train_step(a: TrainStepArgs) -> Result<()> {
        set_threads(a.threads)?;
        let r = bench::run(&a.model, a.steps, a.batch, device(a.cpu), a.seed)?;
        println!("{}", serde_json::to_string(&r)?);
        Ok(())
    }
}
