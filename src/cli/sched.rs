//! `nestevo sched ...`: the evolution job scheduler (docs/scheduler.md).

use super::sched_args::{sized_jobs, ModelArgs, DEFAULT_PREDICTOR};
use anyhow::Context;
use clap::{Args, Subcommand};
use nestevo_sched::plan;
use nestevo_sched::policy::Policy;
use nestevo_sched::predict::{FitConfig, Mlp};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum SchedCommand {
    /// One decision: the jobs a policy starts now on an idle device of --memory-mb.
    Plan(PlanArgs),
    /// Discrete-event simulation of every policy on a synthetic evolution workload.
    Simulate(SimulateArgs),
    /// Trains the time predictor on profiled runs; reports its held-out error.
    Fit(FitArgs),
    /// Profiles real training runs for the predictor and the memory model (LibTorch).
    #[cfg(feature = "torch")]
    Profile(super::sched_torch::ProfileArgs),
    /// One profiled run (used by `profile`, one process per run so each RSS peak is its own).
    #[cfg(feature = "torch")]
    #[command(hide = true)]
    ProfileOne(super::sched_torch::ProfileOneArgs),
    /// Real concurrent training of a jobs file under a policy on this machine (LibTorch).
    #[cfg(feature = "torch")]
    Run(super::sched_torch::RunArgs),
}

#[derive(Args)]
pub struct PlanArgs {
    /// Jobs file: a JSON list of objects (see docs/scheduler.md).
    #[arg(long)]
    jobs: PathBuf,
    /// Free device memory (MB).
    #[arg(long)]
    memory_mb: f64,
    /// knapsack (NestEvo), random (B1), fifo (B2), spf (shortest first), fair (Ekya-style).
    #[arg(long, default_value = "knapsack")]
    policy: String,
    /// Seed of the random policy.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    models: ModelArgs,
    /// Print JSON (`chosen`, `value`, `memory_mb`, ...).
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct SimulateArgs {
    /// Terminals asking for evolutions (ignored with --sweep).
    #[arg(long, default_value_t = 4)]
    terminals: usize,
    /// Also run 4, 16, 64, 256 and 1024 terminals: table, plot and the planner's time.
    #[arg(long)]
    sweep: bool,
    /// Evolutions per terminal.
    #[arg(long, default_value_t = 10)]
    evolutions: usize,
    /// Seconds between a terminal's evolutions (its evolution window).
    #[arg(long, default_value_t = 60.0)]
    window_s: f64,
    /// Each request arrives up to this many seconds after its window starts.
    #[arg(long, default_value_t = 10.0)]
    jitter_s: f64,
    /// Share of evolutions that are mutual-learning pairs (the rest distillations).
    #[arg(long, default_value_t = 0.5)]
    p_coevolve: f64,
    /// Multiplies every job's steps (a shorter workload for `sched run`).
    #[arg(long, default_value_t = 1.0)]
    step_scale: f64,
    /// Also write the workload (for --terminals) as a jobs file here, for `sched run`.
    #[arg(long)]
    write_jobs: Option<PathBuf>,
    /// Device memory (MB).
    #[arg(long, default_value_t = 4096.0)]
    memory_mb: f64,
    /// Share of the device one job uses alone (processor-sharing model, see docs/scheduler.md).
    #[arg(long, default_value_t = 0.5)]
    util: f64,
    /// Predicted times are divided by this (a job alone on the device runs this much faster
    /// than the single-thread runs the predictor learnt, e.g. with all the CPU's cores).
    #[arg(long, default_value_t = 1.0)]
    speedup: f64,
    /// Folder of the shipped model descriptions (terminal, M1, M2, M3, global).
    #[arg(long, default_value = "models/pretrained")]
    model_dir: PathBuf,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    models: ModelArgs,
    /// Write results (CSV, JSON, PNG) here.
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct FitArgs {
    /// Folder with runs.jsonl (`nestevo sched profile`); repeat to pool several.
    #[arg(long, required = true)]
    profile: Vec<PathBuf>,
    /// Predictor file to write.
    #[arg(long, default_value = DEFAULT_PREDICTOR)]
    out: PathBuf,
    #[arg(long, default_value_t = 3000)]
    epochs: usize,
    /// Learn the runs' CPU time instead of their wall time (on a shared machine the wall
    /// time holds the other processes' load).
    #[arg(long)]
    cpu_time: bool,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long)]
    json: bool,
}

pub fn run(c: SchedCommand) -> anyhow::Result<()> {
    match c {
        SchedCommand::Plan(a) => plan_cmd(a),
        SchedCommand::Simulate(a) => simulate_cmd(a),
        SchedCommand::Fit(a) => fit_cmd(a),
        #[cfg(feature = "torch")]
        SchedCommand::Profile(a) => super::sched_torch::profile(a),
        #[cfg(feature = "torch")]
        SchedCommand::ProfileOne(a) => super::sched_torch::profile_one(a),
        #[cfg(feature = "torch")]
        SchedCommand::Run(a) => super::sched_torch::run(a),
    }
}

fn plan_cmd(a: PlanArgs) -> anyhow::Result<()> {
    let policy: Policy = a.policy.parse()?;
    let jobs = sized_jobs(&a.jobs, &a.models)?;
    let p = plan(policy, &jobs, a.memory_mb, a.seed)
        .with_context(|| format!("{} on {} MB", a.jobs.display(), a.memory_mb))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&p)?);
    } else {
        println!(
            "{}: start {} of {} jobs: {} ({:.1} of {:.1} MB, value {:.4} 1/s)",
            p.policy,
            p.chosen.len(),
            jobs.len(),
            p.chosen.join(", "),
            p.memory_mb,
            p.budget_mb,
            p.value
        );
        println!("{}", a.models.describe());
    }
    Ok(())
}

fn simulate_cmd(a: SimulateArgs) -> anyhow::Result<()> {
    use nestevo_experiments::sched_scenarios::{run, SimulateOptions};
    let (mem, time) = a.models.load()?;
    let time = time.with_context(|| {
        format!("no time predictor (--predictor, or {DEFAULT_PREDICTOR}; `nestevo sched fit` makes one)")
    })?;
    let o = SimulateOptions {
        terminals: a.terminals,
        sweep: a.sweep,
        evolutions: a.evolutions,
        window_s: a.window_s,
        jitter_s: a.jitter_s,
        p_coevolve: a.p_coevolve,
        step_scale: a.step_scale,
        write_jobs: a.write_jobs,
        memory_mb: a.memory_mb,
        util: a.util,
        speedup: a.speedup,
        model_dir: a.model_dir,
        seed: a.seed,
        out: a.out,
    };
    let r = run(&o, &mem, &time)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r.summary)?);
        return Ok(());
    }
    for c in &r.counts {
        println!(
            "{} terminals x {} evolutions ({} jobs), {:.0} MB, util {}, speedup {}: mean latency (s)",
            c.terminals, a.evolutions, c.jobs, a.memory_mb, a.util, a.speedup
        );
        for p in &c.runs {
            println!(
                "  {:<9} {:>10.1} s  ({:+.1} % vs fifo; peak {:.0} MB)",
                p.policy.name(),
                p.mean_latency_s,
                100.0 * (p.mean_latency_s / c.fifo_s - 1.0),
                p.peak_mb
            );
        }
    }
    if let Some(ms) = r.planner_ms {
        println!(
            "knapsack planner over 1024 waiting jobs, {:.0} MB: {ms:.2} ms",
            a.memory_mb
        );
    }
    Ok(())
}

fn fit_cmd(a: FitArgs) -> anyhow::Result<()> {
    use nestevo_sched::profile::{fit_memory, fit_workspace, read_runs, report, split};
    let mut runs = Vec::new();
    for d in &a.profile {
        runs.extend(read_runs(d)?);
    }
    let (train, held) = split(&runs);
    anyhow::ensure!(
        !held.is_empty(),
        "{} runs: too few to hold any out",
        runs.len()
    );
    let samples: Vec<_> = train.iter().map(|r| r.sample(a.cpu_time)).collect();
    let cfg = FitConfig {
        epochs: a.epochs,
        seed: a.seed,
        ..Default::default()
    };
    let mut mlp = Mlp::fit(&samples, &cfg)?;
    mlp.workspace_mb = fit_workspace(&train);
    mlp.memory_per_kind = Some(fit_memory(&train, mlp.workspace_mb));
    let rep = report(&mlp, &held, mlp.workspace_mb, a.cpu_time);
    if let Some(d) = a.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(d).with_context(|| format!("{}: cannot create", d.display()))?;
    }
    mlp.save(&a.out)?;
    let rep_path = a.out.with_extension("report.json");
    nestevo_core::error::write_atomic(&rep_path, serde_json::to_string_pretty(&rep)?.as_bytes())?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rep)?);
    } else {
        println!(
            "{} time, trained on {} runs, {} held out: MLP MAPE {:.1} % (worst {:.1} %), baseline MAPE {:.1} % (worst {:.1} %)",
            rep.time, rep.trained_on, rep.held_out, rep.mlp.mape_pct, rep.mlp.worst_pct, rep.baseline.mape_pct, rep.baseline.worst_pct
        );
        for (k, e) in &rep.time_per_kind {
            println!(
                "  time   {:<9} MAPE {:>6.1} % worst {:>6.1} % ({} runs)",
                k.name(),
                e.mape_pct,
                e.worst_pct,
                e.runs
            );
        }
        println!(
            "memory model (per kind: workspace c, activation scale s; one workspace {:.1} MB):",
            rep.workspace_mb
        );
        for ((k, e), (_, e1)) in rep.memory.iter().zip(&rep.memory_one_workspace) {
            let f = rep.memory_per_kind.map(|f| f[k.index()]);
            println!(
                "  memory {:<9} MAPE {:>6.1} % worst {:>6.1} % ({} runs); c {:.1} MB, s {:.3}; one workspace: MAPE {:.1} % worst {:.1} %",
                k.name(),
                e.mape_pct,
                e.worst_pct,
                e.runs,
                f.map_or(rep.workspace_mb, |f| f.workspace_mb),
                f.map_or(1.0, |f| f.act_scale),
                e1.mape_pct,
                e1.worst_pct
            );
        }
        println!("wrote {} and {}", a.out.display(), rep_path.display());
    }
    Ok(())
}
