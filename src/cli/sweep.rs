//! `nestevo sweep`: a grid of accelerator designs through the performance model, and
//! `nestevo sweep merge` for the shards of one.

use super::cim::ArchSel;
use crate::model::load_model;
use crate::sweep::{merge, run_sweep, Grid, Shard, SweepConfig, SweepOutcome};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
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
    let cfg = SweepConfig {
        arch: r.sel.load()?,
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
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(r.threads.unwrap_or(0))
        .build()?;
    let o = pool.install(|| run_sweep(&cfg, &out))?;
    print(&o, r.json)
}
