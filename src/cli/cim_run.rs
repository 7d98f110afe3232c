//! `nestevo cim run`: a trained detector on a stream, float and bit-faithfully on crossbars.

use super::cim::ArchSel;
use crate::cim::network::run::{load_checkpoint, render, run_detector, RunConfig, EVAL_SEED};
use crate::cim::NoiseMode;
use crate::data::StreamId;
use anyhow::{Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};

/// Runs a checkpoint's network layer by layer on the simulated crossbars and in float.
#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub sel: ArchSel,
    /// Weights saved by the trainer: DIR/NAME.safetensors (not needed for an .onnx --model).
    #[arg(long, required_unless_present = "inputs")]
    pub checkpoint: Option<PathBuf>,
    /// Model description (default: NAME.toml beside the checkpoint), or an .onnx file.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Any network, not a detector: float32 .npy inputs [batch, ...] in the network's input
    /// layout; then --out is a folder for float.npy, cim.npy and report.json.
    #[arg(long, requires = "model")]
    pub inputs: Option<PathBuf>,
    /// With --inputs: calibration inputs (default: the inputs themselves).
    #[arg(long, requires = "inputs")]
    pub calib: Option<PathBuf>,
    /// Stream the frames come from: source, A, B, C, D or E.
    #[arg(long, default_value = "source")]
    pub stream: StreamId,
    /// Evaluated frames.
    #[arg(long, default_value_t = 16)]
    pub frames: usize,
    /// Frames that calibrate the activation scales (rendered with seed + 1, never evaluated).
    #[arg(long, default_value_t = 4)]
    pub calib_frames: usize,
    /// Stream seed of the evaluated frames (default: the trainer's evaluation seed).
    #[arg(long, default_value_t = EVAL_SEED)]
    pub seed: u64,
    /// Conductance noise model.
    #[arg(long, value_enum, default_value = "none")]
    pub noise: NoiseMode,
    /// Noise coefficient mu: sigma = mu * (max - min) of the weights (weight) or conductances (cell).
    #[arg(long, default_value_t = 0.0)]
    pub mu: f64,
    /// Seed of the noise draws (layer l draws from noise-seed + l * 2^16).
    #[arg(long, default_value_t = 0)]
    pub noise_seed: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON report to this file (atomically); with --inputs, the output folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(a: RunArgs) -> Result<()> {
    let spec = a.sel.load()?;
    let noise = super::cim::noise_spec(a.noise, a.mu, 0.0, a.noise_seed)?;
    if a.inputs.is_some() {
        return super::cim_generic::run(a, spec, noise);
    }
    let checkpoint = a
        .checkpoint
        .as_deref()
        .context("--checkpoint is required")?;
    let (desc, tensors) = load_checkpoint(checkpoint, a.model.as_deref())?;
    let cfg = RunConfig {
        stream: a.stream,
        frames: a.frames,
        calib_frames: a.calib_frames,
        seed: a.seed,
        noise,
    };
    let r = run_detector(&desc, &tensors, &spec, &cfg)?;
    let json = serde_json::to_string_pretty(&r)?;
    if let Some(p) = &a.out {
        write_atomic(p, &json)?;
    }
    if a.json {
        println!("{json}");
    } else {
        print!("{}", render(&r));
    }
    Ok(())
}

/// Writes beside the target, then renames, so a reader never sees half a file.
pub(super) fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let name = path
        .file_name()
        .with_context(|| format!("--out {}: not a file name", path.display()))?;
    let tmp = path.with_file_name(format!(".tmp-{}", name.to_string_lossy()));
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}
