//! `nestevo sched ...`: the evolution job scheduler (docs/scheduler.md).

use anyhow::Context;
use clap::{Args, Subcommand};
use nestevo_sched::policy::Policy;
use nestevo_sched::predict::{Baseline, FitConfig, Mlp, TimeModel};
use nestevo_sched::workload::{evolutions, Models, Scenario};
use nestevo_sched::{load_jobs, mean_latency, plan, simulate, size, Device, MemoryModel};
use std::path::{Path, PathBuf};

/// The predictor every command loads unless told otherwise.
pub const DEFAULT_PREDICTOR: &str = "models/sched/predictor.json";

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

#[derive(Args, Clone)]
pub struct ModelArgs {
    /// Time predictor file (`nestevo sched fit`); without it, jobs need their own `seconds`.
    #[arg(long)]
    pub predictor: Option<PathBuf>,
    /// Use the predictor file's MACs baseline instead of its MLP.
    #[arg(long)]
    pub baseline: bool,
    /// The memory model's workspace per job (MB); default the predictor file's measured one.
    #[arg(long)]
    pub workspace_mb: Option<f64>,
}

impl ModelArgs {
    /// The memory and time models; `None` time model when no predictor file is found.
    pub fn load(&self) -> anyhow::Result<(MemoryModel, Option<TimeModel>)> {
        let path = self
            .predictor
            .clone()
            .or_else(|| Some(PathBuf::from(DEFAULT_PREDICTOR)).filter(|p| p.exists()));
        let mlp = path.map(|p| Mlp::load(&p)).transpose()?;
        let mut mem = MemoryModel::default();
        if let Some(m) = &mlp {
            mem.workspace_mb = m.workspace_mb;
            mem.per_kind = m.memory_per_kind;
        }
        if let Some(w) = self.workspace_mb {
            anyhow::ensure!(
                w.is_finite() && w >= 0.0,
                "--workspace-mb {w}: allowed is 0 or more"
            );
            mem.workspace_mb = w;
            // An explicit workspace means the one-workspace model.
            mem.per_kind = None;
        }
        let time = mlp.map(|m| {
            if self.baseline {
                TimeModel::Baseline(m.baseline)
            } else {
                TimeModel::Mlp(Box::new(m))
            }
        });
        Ok((mem, time))
    }
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

/// Sizes a jobs file's jobs; an error when a job needs a prediction and no predictor is loaded.
pub fn sized_jobs(path: &Path, models: &ModelArgs) -> anyhow::Result<Vec<nestevo_sched::Sized>> {
    let jobs = load_jobs(path)?;
    let (mem, time) = models.load()?;
    let time = match time {
        Some(t) => t,
        None => {
            if let Some(j) = jobs.iter().find(|j| j.seconds.is_none()) {
                anyhow::bail!(
                    "{}: job `{}` has no `seconds` and no predictor was found (--predictor, or \
                     {DEFAULT_PREDICTOR}; `nestevo sched fit` makes one)",
                    path.display(),
                    j.id
                );
            }
            TimeModel::Baseline(Baseline {
                seconds_per_mac: 0.0,
            })
        }
    };
    Ok(size(&jobs, &mem, &time))
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
    }
    Ok(())
}

/// One policy's simulation: mean latency over all and per terminal, peak memory, the times.
type PolicyRun = (
    Policy,
    f64,
    Vec<(String, f64)>,
    f64,
    Vec<nestevo_sched::JobTimes>,
);

/// Every policy's simulation of `jobs`.
fn run_policies(
    jobs: &[nestevo_sched::Sized],
    dev: &Device,
    seed: u64,
) -> anyhow::Result<Vec<PolicyRun>> {
    let mut out = Vec::new();
    for p in Policy::ALL {
        let (times, peak) = simulate(p, jobs, dev, seed)?;
        let (all, per) = mean_latency(&times);
        out.push((p, all, per, peak, times));
    }
    Ok(out)
}

fn simulate_cmd(a: SimulateArgs) -> anyhow::Result<()> {
    anyhow::ensure!(a.terminals > 0, "--terminals 0: allowed is 1 or more");
    anyhow::ensure!(a.evolutions > 0, "--evolutions 0: allowed is 1 or more");
    anyhow::ensure!(
        (0.0..=1.0).contains(&a.p_coevolve),
        "--p-coevolve {}: allowed is 0 to 1",
        a.p_coevolve
    );
    anyhow::ensure!(
        a.speedup.is_finite() && a.speedup > 0.0,
        "--speedup {}: allowed is above 0",
        a.speedup
    );
    let (mem, time) = a.models.load()?;
    let time = time.with_context(|| {
        format!("no time predictor (--predictor, or {DEFAULT_PREDICTOR}; `nestevo sched fit` makes one)")
    })?;
    let models = Models::load(&a.model_dir)?;
    let dev = Device {
        budget_mb: a.memory_mb,
        util: a.util,
    };
    let scenario = |terminals: usize| Scenario {
        terminals,
        evolutions: a.evolutions,
        window_s: a.window_s,
        jitter_s: a.jitter_s,
        p_coevolve: a.p_coevolve,
        step_scale: a.step_scale,
        seed: a.seed,
    };
    anyhow::ensure!(
        a.step_scale.is_finite() && a.step_scale > 0.0,
        "--step-scale {}: allowed is above 0",
        a.step_scale
    );
    if let Some(f) = &a.write_jobs {
        let text = nestevo_sched::workload::jobs_file(&evolutions(&models, &scenario(a.terminals)));
        nestevo_core::error::write_atomic(f, text.as_bytes())?;
    }
    if let Some(o) = &a.out {
        std::fs::create_dir_all(o).with_context(|| format!("{}: cannot create", o.display()))?;
    }
    let counts: Vec<usize> = if a.sweep {
        vec![4, 16, 64, 256, 1024]
    } else {
        vec![a.terminals]
    };
    let mut table = Vec::new();
    let mut summary = serde_json::Map::new();
    let sized = |s: &Scenario| {
        let mut j = size(&evolutions(&models, s), &mem, &time);
        for x in &mut j {
            x.seconds /= a.speedup;
        }
        j
    };
    for &n in &counts {
        let jobs = sized(&scenario(n));
        let res = run_policies(&jobs, &dev, a.seed)?;
        let b2 = res
            .iter()
            .find(|r| r.0 == Policy::Fifo)
            .map(|r| r.1)
            .expect("fifo");
        if !a.json {
            println!(
                "{n} terminals x {} evolutions ({} jobs), {:.0} MB, util {}, speedup {}: mean latency (s)",
                a.evolutions,
                jobs.len(),
                a.memory_mb,
                a.util,
                a.speedup
            );
        }
        let mut row = serde_json::Map::new();
        for (p, all, per, peak, times) in &res {
            if !a.json {
                println!(
                    "  {:<9} {:>10.1} s  ({:+.1} % vs fifo; peak {:.0} MB)",
                    p.name(),
                    all,
                    100.0 * (all / b2 - 1.0),
                    peak
                );
            }
            table.push((n, *p, *all, *peak));
            row.insert(
                p.name().into(),
                serde_json::json!({"mean_latency_s": all, "peak_mb": peak, "per_terminal_s": per,
                    "vs_fifo_pct": 100.0 * (all / b2 - 1.0)}),
            );
            if let (Some(o), false) = (&a.out, a.sweep) {
                let mut csv = String::from(
                    "id,terminal,arrival_s,start_s,end_s,wait_s,latency_s,memory_mb\n",
                );
                for t in times {
                    csv += &format!(
                        "{},{},{:.3},{:.3},{:.3},{:.3},{:.3},{:.1}\n",
                        t.id,
                        t.terminal,
                        t.arrival_s,
                        t.start_s,
                        t.end_s,
                        t.wait_s(),
                        t.latency_s(),
                        t.memory_mb
                    );
                }
                nestevo_core::error::write_atomic(
                    &o.join(format!("times-{}.csv", p.name())),
                    csv.as_bytes(),
                )?;
            }
        }
        if let (Some(o), false) = (&a.out, a.sweep) {
            let mut groups: Vec<String> = res[0].2.iter().map(|t| t.0.clone()).collect();
            groups.push("all".into());
            let series: Vec<(String, Vec<f64>)> = res
                .iter()
                .map(|r| {
                    (
                        r.0.name().to_string(),
                        r.2.iter().map(|t| t.1).chain([r.1]).collect(),
                    )
                })
                .collect();
            let mut csv = String::from("terminal");
            for s in &series {
                csv += &format!(",{}", s.0);
            }
            csv += "\n";
            for (g, name) in groups.iter().enumerate() {
                csv += name;
                for s in &series {
                    csv += &format!(",{:.3}", s.1[g]);
                }
                csv += "\n";
            }
            nestevo_core::error::write_atomic(&o.join("per-terminal.csv"), csv.as_bytes())?;
            let png = o.join("latency.png");
            nestevo_experiments::sched_plot::plot_bars(
                &png,
                &format!("Mean evolution latency per terminal ({n} terminals x {} evolutions, discrete-event)", a.evolutions),
                &groups,
                &series,
            )
            .map_err(|e| anyhow::anyhow!("{}: cannot draw: {e}", png.display()))?;
        }
        summary.insert(n.to_string(), serde_json::Value::Object(row));
    }
    if a.sweep {
        // The planner's own time with 1024 waiting jobs on an idle device.
        let jobs = sized(&Scenario {
            evolutions: 1,
            ..scenario(1024)
        });
        let t0 = std::time::Instant::now();
        let reps = 5;
        for _ in 0..reps {
            plan(Policy::Knapsack, &jobs, a.memory_mb, a.seed)?;
        }
        let ms = t0.elapsed().as_secs_f64() * 1e3 / reps as f64;
        summary.insert("planner_ms_1024_jobs".into(), serde_json::json!(ms));
        if !a.json {
            println!(
                "knapsack planner over 1024 waiting jobs, {:.0} MB: {ms:.2} ms",
                a.memory_mb
            );
        }
    }
    if let Some(o) = &a.out {
        let mut csv = String::from("terminals,policy,mean_latency_s,peak_mb\n");
        for (n, p, l, peak) in &table {
            csv += &format!("{n},{},{l:.3},{peak:.1}\n", p.name());
        }
        nestevo_core::error::write_atomic(&o.join("latency.csv"), csv.as_bytes())?;
        nestevo_core::error::write_atomic(
            &o.join("summary.json"),
            serde_json::to_string_pretty(&summary)?.as_bytes(),
        )?;
        if a.sweep {
            let series: Vec<(String, Vec<(f64, f64)>)> = Policy::ALL
                .iter()
                .map(|p| {
                    (
                        p.name().to_string(),
                        table
                            .iter()
                            .filter(|r| r.1 == *p)
                            .map(|r| (r.0 as f64, r.2))
                            .collect(),
                    )
                })
                .collect();
            nestevo_experiments::sched_plot::plot_scaling(
                &o.join("scaling.png"),
                "Mean evolution latency against terminals (discrete-event, predicted times)",
                &series,
            )
            .map_err(|e| {
                anyhow::anyhow!("{}: cannot draw: {e}", o.join("scaling.png").display())
            })?;
        }
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
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
