//! `nestevo cim run`: a trained detector on a stream, float and bit-faithfully on crossbars.

use super::args::BackendArg;
use super::args::{ArchSel, HeldOutArgs, NoiseArgs};
use crate::couple::{load_checkpoint, render, run_detector, RunConfig};
use crate::data::StreamId;
use crate::error::write_atomic;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

/// Runs a checkpoint's network layer by layer on the simulated crossbars and in float.
#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub sel: ArchSel,
    /// Weights saved by the trainer: DIR/NAME.safetensors.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Model description (default: NAME.toml beside the checkpoint).
    #[arg(long)]
    pub model: Option<PathBuf>,
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
    /// Also write the JSON report to this file (atomically).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(a: RunArgs) -> Result<()> {
    let spec = a.sel.load()?;
    let stream = a.frames.stream.unwrap_or(StreamId::Source);
    let cfg = RunConfig {
        frames: a.frames.held_out(stream, 16)?,
        calib_frames: a.calib_frames,
        noise: a.noise.spec(0.0)?,
        backend: a.backend.get()?,
    };
    let (desc, tensors) = load_checkpoint(&a.checkpoint, a.model.as_deref())?;
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
