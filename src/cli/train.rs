//! `nestevo pretrain` and `nestevo eval`.

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
    /// Training-speed benchmark instead: time this many steps of --bench-model (see benches/).
    #[arg(long, hide = true)]
    bench_steps: Option<usize>,
    #[arg(long, hide = true, default_value = "models/terminal.toml")]
    bench_model: PathBuf,
    #[arg(long, hide = true, default_value_t = 32)]
    bench_batch: usize,
}

#[derive(Args)]
#[cfg_attr(not(feature = "torch"), allow(dead_code))]
#[cfg_attr(feature = "torch", command(group = clap::ArgGroup::new("frames_from").required(true).args(["stream", "frames"])))]
pub struct EvalArgs {
    /// Checkpoint NAME.safetensors (NAME.toml must lie beside it).
    #[arg(long)]
    checkpoint: PathBuf,
    /// A rendered stream: source, A, B, C, D or E (the frames `nestevo data render` writes).
    #[arg(long)]
    stream: Option<String>,
    /// A folder of PNG frames with COCO-style labels.
    #[arg(long)]
    frames: Option<PathBuf>,
    /// Frames of --stream to score (frame 0 onwards).
    #[arg(long, default_value_t = 200)]
    frames_count: usize,
    /// Stream seed (the same as `nestevo data render`'s).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Eq. 18-20 weight noise coefficient applied in the forward pass.
    #[arg(long)]
    noise_mu: Option<f64>,
    /// Seed of the noise draws (LibTorch's generator), so a noisy evaluation repeats exactly.
    #[arg(long, default_value_t = 0)]
    noise_seed: u64,
    /// Write the detections in the COCO results format.
    #[arg(long)]
    predictions_out: Option<PathBuf>,
    /// Print JSON (map50, map75, map, per-class AP50).
    #[arg(long)]
    json: bool,
    #[arg(long)]
    cpu: bool,
    /// CPU threads for LibTorch (default: one per core).
    #[arg(long)]
    threads: Option<i32>,
}

#[cfg(not(feature = "torch"))]
pub fn pretrain(_: PretrainArgs) -> anyhow::Result<()> {
    anyhow::bail!("`nestevo pretrain` needs the `torch` feature (this binary was built without it)")
}

#[cfg(not(feature = "torch"))]
pub fn eval(_: EvalArgs) -> anyhow::Result<()> {
    anyhow::bail!("`nestevo eval` needs the `torch` feature (this binary was built without it)")
}

#[cfg(feature = "torch")]
pub use with_torch::{eval, pretrain};

#[cfg(feature = "torch")]
mod with_torch {
    use super::{EvalArgs, PretrainArgs};
    use crate::data::{read_frames_dir, Frame, Stream, StreamId, CLASSES};
    use crate::train::{bench, checkpoint, evaluate, noise::WeightNoise, pretrain};
    use anyhow::{Context, Result};
    use serde_json::json;
    use tch::Device;

    fn device(cpu: bool) -> Device {
        if cpu {
            Device::Cpu
        } else {
            Device::cuda_if_available()
        }
    }

    fn set_threads(t: Option<i32>) -> Result<()> {
        if let Some(t) = t {
            anyhow::ensure!(t > 0, "--threads must be at least 1, got {t}");
            tch::set_num_threads(t);
        }
        Ok(())
    }

    pub fn pretrain(a: PretrainArgs) -> Result<()> {
        set_threads(a.threads)?;
        if let Some(steps) = a.bench_steps {
            let r = bench::run(&a.bench_model, steps, a.bench_batch, device(a.cpu), a.seed)?;
            println!("{}", serde_json::to_string(&r)?);
            return Ok(());
        }
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
            "pretrain preset {} on {} ({} threads), mAP@0.5 on {} held-out frames per stream",
            r.preset, r.device, r.threads, r.eval_frames_per_stream
        );
        println!(
            "| model  | params | steps | train (s) | frames/s | loss first -> last | untrained mAP@0.5 | source mAP@0.5 | source mAP@[.5:.95] | A mAP@0.5 | D mAP@0.5 | E mAP@0.5 |"
        );
        println!("|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|");
        for m in &r.rows {
            println!(
                "| {:6} | {:>6} | {:>5} | {:>9.1} | {:>8.1} | {:.3} -> {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
                m.model, m.params, m.steps, m.train_s, m.frames_per_s, m.first_loss, m.last_loss,
                m.untrained_map50, m.map50_source, m.map_source, m.map50_a, m.map50_d, m.map50_e
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
        if let Some(mu) = a.noise_mu {
            model.noise = Some(WeightNoise::new(mu).context("--noise-mu")?);
        }
        tch::manual_seed(a.noise_seed as i64);
        let (frames, source): (Vec<Frame>, String) = match (&a.stream, &a.frames) {
            (Some(s), _) => {
                let id: StreamId = s
                    .parse()
                    .with_context(|| format!("--stream {s}: allowed are source, A, B, C, D, E"))?;
                let st = Stream::new(id, a.seed);
                (
                    (0..a.frames_count as u64).map(|i| st.frame(i)).collect(),
                    format!("stream {s} (seed {}, {} frames)", a.seed, a.frames_count),
                )
            }
            (None, Some(dir)) => (read_frames_dir(dir)?, format!("folder {}", dir.display())),
            (None, None) => anyhow::bail!("give --stream S or --frames DIR"),
        };
        anyhow::ensure!(!frames.is_empty(), "no frames to score in {source}");
        let (r, dets) = evaluate::evaluate_frames(&model, &frames)?;
        if let Some(p) = &a.predictions_out {
            crate::eval::write_coco_results(p, &dets)?;
        }
        let per_class: serde_json::Map<_, _> = CLASSES
            .iter()
            .zip(&r.ap50_per_class)
            .map(|(c, v)| (c.to_string(), json!(v)))
            .collect();
        if a.json {
            let j = json!({"checkpoint": a.checkpoint, "model": model.desc.name, "frames": frames.len(),
                "source": source, "noise_mu": a.noise_mu.unwrap_or(0.0),
                "map50": r.map50, "map75": r.map75, "map": r.map, "map50_voc": r.map50_voc,
                "per_class_ap50": per_class, "gt_boxes": r.gt_boxes, "detections": r.detections});
            println!("{}", serde_json::to_string_pretty(&j)?);
        } else {
            println!(
                "model {} on {source}, weight noise mu = {}",
                model.desc.name,
                a.noise_mu.unwrap_or(0.0)
            );
            println!("| metric | value |\n|---|---:|");
            println!(
                "| mAP@0.5 | {:.4} |\n| mAP@0.75 | {:.4} |\n| mAP@[.5:.95] | {:.4} |",
                r.map50, r.map75, r.map
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
}
