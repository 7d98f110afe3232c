//! `nestevo bench device-sweep`: the chip under conductance drift (with and without global
//! compensation) and stuck-at faults, each point against the ideal chip on the same frames.

use super::args::{set_threads, ArchSel, BackendArg};
use anyhow::{Context, Result};
use clap::Args;
use nestevo_couple::load_checkpoint;
use nestevo_data::StreamId;
use nestevo_eval::heldout::{HeldOut, EVAL_SEED};
use nestevo_experiments::device_sweep::{check_points, device_sweep, grid, summarise, DeviceSweep};
use std::path::PathBuf;

#[derive(Args)]
pub struct DeviceSweepArgs {
    /// The chip (its own device laws, if any, come before each point's).
    #[command(flatten)]
    pub sel: ArchSel,
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Streams scored, the same frames at every point.
    #[arg(long, value_delimiter = ',', default_value = "source,D,E")]
    pub streams: Vec<StreamId>,
    /// Frames per stream (one every 2 s of stream time).
    #[arg(long, default_value_t = 100)]
    pub frames: usize,
    /// Held-out stream seed (below 2^32).
    #[arg(long, default_value_t = EVAL_SEED)]
    pub seed: u64,
    #[arg(long, default_value_t = 4)]
    pub calib_frames: usize,
    /// Times after programming for the drift points, seconds (1 s, 1 min, 1 h, 1 day, 1 year,
    /// 10 years by default).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,60,3600,86400,31557600,315576000"
    )]
    pub times: Vec<f64>,
    /// More drift parameters for every drift point, e.g. nu=0.03,nu_sd=0.005.
    #[arg(long, default_value = "")]
    pub drift: String,
    /// Stuck-at rates (fractions of all cells) for the stuck-off and stuck-on points.
    #[arg(long, value_delimiter = ',', default_value = "0.001,0.01,0.05")]
    pub rates: Vec<f64>,
    /// Draws per point (noise seeds noise-seed, noise-seed + 1, ...; shared by every point).
    #[arg(long, default_value_t = 3)]
    pub draws: usize,
    #[arg(long, default_value_t = 0)]
    pub noise_seed: u64,
    #[command(flatten)]
    pub backend: BackendArg,
    #[arg(long)]
    pub threads: Option<i32>,
    /// Results CSV (resumed when it exists).
    #[arg(long)]
    pub out: PathBuf,
    /// Folder for drift.png and stuck.png.
    #[arg(long)]
    pub plot_dir: Option<PathBuf>,
}

pub fn run(a: DeviceSweepArgs) -> Result<()> {
    set_threads(a.threads)?;
    if let Some(t) = a.threads {
        // Fails only when a pool exists already; then it keeps its size.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(t as usize)
            .build_global();
    }
    let arch = a.sel.load()?;
    // Each value's laws against the description first, so that a bad one is named by its flag.
    let check = |points: Vec<_>| check_points(&arch, &points);
    check(grid(&[1.0], &[], &a.drift)?).with_context(|| format!("--drift {}", a.drift))?;
    for &t in &a.times {
        check(grid(&[t], &[], &a.drift)?).with_context(|| format!("--times {t}"))?;
    }
    for &r in &a.rates {
        check(grid(&[], &[r], "")?).with_context(|| format!("--rates {r}"))?;
    }
    let (desc, tensors) = load_checkpoint(&a.checkpoint, None)?;
    let sets = a
        .streams
        .iter()
        .map(|&s| HeldOut::new(s, a.frames).with_seed(a.seed))
        .collect::<Result<Vec<_>, _>>()?;
    let s = DeviceSweep {
        points: grid(&a.times, &a.rates, &a.drift)?,
        sets,
        draws: a.draws,
        seed: a.noise_seed,
        calib_frames: a.calib_frames,
        arch,
        backend: a.backend.get()?,
    };
    let file = device_sweep(&desc, &tensors, &s, &a.out)?;
    print!("{}", summarise(&file, a.plot_dir.as_deref())?);
    Ok(())
}
