//! `nestevo cim run`: a trained detector on a stream, float and bit-faithfully on crossbars.

pub use super::cim_run_args::RunArgs;
use anyhow::{Context, Result};
use nestevo_core::error::write_atomic;
use nestevo_couple::{load_checkpoint, render, run_detector, RunConfig};
use nestevo_data::StreamId;

pub fn run(a: RunArgs) -> Result<()> {
    let spec = a.sel.load()?;
    if a.inputs.is_some() {
        let noise = a.noise.spec(0.0)?;
        return super::cim_generic::run(a, spec, noise);
    }
    if let Some(p) = &a.out {
        super::args::out_folder("--out", p)?;
    }
    let stream = a.frames.stream.unwrap_or(StreamId::Source);
    let cfg = RunConfig {
        frames: a.frames.held_out(stream, 16)?,
        calib_frames: a.calib_frames,
        noise: a.noise.spec(0.0)?,
        backend: a.backend.get()?,
        batch: a.batch,
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
