//! `nestevo cim run`: a trained detector on a stream, float and bit-faithfully on crossbars.

use super::args::BackendArg;
use super::args::{ArchSel, HeldOutArgs, NoiseArgs};
use anyhow::{Context, Result};
use clap::Args;
use nestevo_core::error::write_atomic;
use nestevo_couple::{load_checkpoint, render, run_detector, RunConfig};
use nestevo_data::StreamId;
use std::path::PathBuf;

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
    #[arg(long, requires = "model", conflicts_with_all = ["stream", "frames"])]
    pub inputs: Option<PathBuf>,
    /// With --inputs: calibration inputs (default: the inputs themselves).
    #[arg(long, requires = "inputs")]
    pub calib: Option<PathBuf>,
    /// Scored frames (default: 16 of stream source).
    #[command(flatten)]
    pub frames: HeldOutArgs,
    /// Frames that calibrate the activation scales (the same rule on the next seed, never scored).
    #[arg(long, default_value_t = 4)]
    pub calib_frames: usize,
    #[command(flatten)]
    pub noise: NoiseArgs,
    #[command(flatten)]
    pub backend: BackendArg,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON report to this file (atomically); with --inputs, the output folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(a: RunArgs) -> Result<()> {
    let spec = a.sel.load()?;
    if a.inputs.is_some() {
        let noise = a.noise.spec(0.0)?;
        return super::cim_generic::run(a, spec, noise);
    }
    let stream = a.frames.stream.unwrap_or(StreamId::Source);
    let cfg = RunConfig {
        frames: a.frames.held_out(stream, 16)?,
        calib_frames: a.calib_frames,
        noise: a.noise.spec(0.0)?,
        backend: a.backend.get()?,
    };
    let checkpoint = a
        .checkpoint
        .as_deref()
        .context("--checkpoint is required")?;
    let (desc, tensors) = load_checkpoint(checkpoint, a.model.as_deref())?;
    let r = run_detector(&desc, &tensors, &spec, &cfg)?;
    let json = serde_json::to_string_pretty(&r)?;
    if let Some(p) = &a.out {
        write_atomic(p, json.as_bytes())?;
    }
    if a.json {
        println!("{json}");
    } else {
        print!("{}", render(&r));
    }
    Ok(())
}
