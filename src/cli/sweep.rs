//! `nestevo sweep`: a grid of accelerator designs through the performance model, and
//! `nestevo sweep merge` for the shards of one.

use super::args::{ArchSel, BackendArg, NoiseArgs};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use ndarray::{ArrayD, Axis};
use ndarray_npy::read_npy;
use nestevo_couple::generic::as_frames;
use nestevo_model::load_model;
use nestevo_model::onnx::load_network;
use nestevo_sweep::Accuracy;
use nestevo_sweep::{merge, run_sweep, Grid, Shard, SweepConfig, SweepOutcome};
use std::path::PathBuf;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    pub command: Option<SweepCommand>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Subcommand)]
pub enum SweepCommand {
    /// Join the CSVs of shards 0..N of one sweep (in any order) into the unsharded CSV.
    Merge(MergeArgs),
}

#[derive(Args)]
pub struct MergeArgs {
    /// The shards' CSVs (each with its CSV.meta.json beside it).
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct RunArgs {
    /// The base design (--set applies to it before the grid does).
    #[command(flatten)]
    pub sel: ArchSel,
    /// An axis: section.key=a..b (integers, inclusive) or section.key=v1,v2,... (repeatable).
    #[arg(long = "grid", value_name = "KEY=RANGE")]
    pub grid: Vec<String>,
    /// A network (TOML description or .onnx; repeatable).
    #[arg(long = "model")]
    pub models: Vec<PathBuf>,
    /// Run shard I of N (0 <= I < N): the points i with i mod N == I.
    #[arg(long, default_value = "0/1")]
    pub shard: String,
    /// The results CSV (OUT.meta.json, OUT-stem.pareto.csv and .pareto.png beside it). An
    /// existing OUT of the same sweep is resumed after its last finished point.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Also measure each valid point's bit-faithful error on these float32 frames [batch, ...]
    /// (ONNX models only: they carry their weights).
    #[arg(long, value_name = "X.npy")]
    pub accuracy_inputs: Option<PathBuf>,
    /// Frames of --accuracy-inputs to run (the first N; default all). Without
    /// --accuracy-inputs: score each model, a trained detector (MODEL.toml with its
    /// MODEL.safetensors beside it), by its crossbar mAP@0.5 on N held-out frames of --stream.
    #[arg(long)]
    pub accuracy_frames: Option<usize>,
    /// The stream of the detector's held-out frames (with --accuracy-frames alone).
    #[arg(long, default_value = "source")]
    pub stream: nestevo_data::StreamId,
    /// Calibration frames of the detector runs (the held-out rule on the next seed).
    #[arg(long, default_value_t = 4)]
    pub calib_frames: usize,
    /// Calibration frames for the accuracy runs (default: the frames themselves).
    #[arg(long, requires = "accuracy_inputs")]
    pub calib: Option<PathBuf>,
    /// Conductance noise of the accuracy runs.
    #[command(flatten)]
    pub noise: NoiseArgs,
    /// Engine of the detector runs' crossbars (with --accuracy-frames alone).
    #[command(flatten)]
    pub backend: BackendArg,
    /// Points between two appends to the CSV.
    #[arg(long, default_value_t = 4096, hide = true)]
    pub chunk: usize,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

fn print(o: &SweepOutcome, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(o)?);
        return Ok(());
    }
    println!(
        "{} points ({} resumed, {} evaluated) in {:.3} s: {} rows, {} not valid, {} on the Pareto front",
        o.points, o.resumed, o.evaluated, o.seconds, o.rows, o.invalid_rows, o.front
    );
    if o.evaluated > 0 && o.seconds > 0.0 {
        println!(
            "{:.0} points per minute",
            o.evaluated as f64 / o.seconds * 60.0
        );
    }
    println!("wrote {} and {}", o.csv.display(), o.pareto_csv.display());
    match (&o.plot, &o.plot_error) {
        (Some(p), _) => println!("plot {}", p.display()),
        (None, Some(e)) => println!("no plot: {e}"),
        _ => {}
    }
    Ok(())
}

pub fn run(a: SweepArgs) -> Result<()> {
    if let Some(SweepCommand::Merge(m)) = a.command {
        let o = merge(&m.shards, &m.out)?;
        return print(&o, m.json);
    }
    let r = a.run;
    let out = r.out.clone().context("--out results.csv is required")?;
    anyhow::ensure!(!r.models.is_empty(), "give at least one --model");
    let arch = r.sel.load()?;
    let accuracy: Option<Box<dyn nestevo_sweep::Score>> =
        match (&r.accuracy_inputs, r.accuracy_frames) {
            (Some(x), _) => Some(Box::new(accuracy(&r, x, &arch)?)),
            (None, Some(n)) => Some(Box::new(detector_score(&r, n)?)),
            (None, None) => None,
        };
    let cfg = SweepConfig {
        accuracy,
        arch,
        arch_source: r.sel.arch.display().to_string(),
        grid: Grid::parse(&r.grid)?,
        models: r
            .models
            .iter()
            .map(|p| load_model(p))
            .collect::<Result<_, _>>()?,
        shard: Shard::parse(&r.shard)?,
        chunk: r.chunk,
        progress: !r.json,
    };
    if r.threads == Some(0) {
        anyhow::bail!("--threads 0: allowed is 1 or more (leave it out for one per core)");
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(r.threads.unwrap_or(0))
        .build()?;
    let o = pool.install(|| run_sweep(&cfg, &out))?;
    print(&o, r.json)
}

fn frames(p: &std::path::Path, chw: [usize; 3], n: Option<usize>) -> Result<ndarray::Array4<f32>> {
    let x: ArrayD<f32> =
        read_npy(p).with_context(|| format!("{}: expected a float32 .npy file", p.display()))?;
    let x = as_frames(x, chw, &p.display().to_string())?;
    let n = n.unwrap_or(x.dim().0);
    anyhow::ensure!(
        n >= 1 && n <= x.dim().0,
        "--accuracy-frames {n}: {} holds {} frames",
        p.display(),
        x.dim().0
    );
    Ok(x.slice_axis(Axis(0), (0..n).into()).to_owned())
}

fn accuracy(r: &RunArgs, x: &std::path::Path, arch: &nestevo_arch::ArchSpec) -> Result<Accuracy> {
    let noise = r.noise.spec(0.0)?;
    let mut models = Vec::new();
    for m in &r.models {
        anyhow::ensure!(
            nestevo_model::onnx::is_onnx(m),
            "--accuracy-inputs needs networks with weights: give .onnx models ({} is not)",
            m.display()
        );
        models.push(load_network(m, None)?);
    }
    let chw = models[0].0.input;
    let f = frames(x, chw, r.accuracy_frames)?;
    let calib = match &r.calib {
        Some(c) => frames(c, chw, None)?,
        None => f.clone(),
    };
    let bytes = |p: &std::path::Path| std::fs::read(p).map(|b| b.len()).unwrap_or(0);
    let id = format!(
        "frames {} of {} ({} bytes); calib {}; noise {:?} mu {} seed {}",
        f.dim().0,
        x.display(),
        bytes(x),
        r.calib
            .as_ref()
            .map_or("the frames".into(), |c| c.display().to_string()),
        noise.mode,
        noise.mu,
        noise.seed
    );
    Ok(Accuracy::new(f, calib, noise, &models, arch, id)?)
}

fn detector_score(r: &RunArgs, n: usize) -> Result<nestevo_couple::sweep_score::DetectorScore> {
    let mut tensors = Vec::new();
    for m in &r.models {
        let w = m.with_extension("safetensors");
        let (_, t) = nestevo_couple::load_checkpoint(&w, Some(m)).with_context(|| {
            format!(
                "--accuracy-frames scores trained detectors: {} needs its weights {} beside it",
                m.display(),
                w.display()
            )
        })?;
        tensors.push(t);
    }
    Ok(nestevo_couple::sweep_score::DetectorScore {
        tensors,
        cfg: nestevo_couple::RunConfig {
            frames: nestevo_eval::HeldOut::new(r.stream, n),
            calib_frames: r.calib_frames,
            noise: r.noise.spec(0.0)?,
            backend: r.backend.get()?,
            batch: nestevo_couple::FRAMES_PER_FORWARD,
        },
    })
}
