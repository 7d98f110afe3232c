//! The scheduler's scenarios: every policy's discrete-event simulation of a synthetic evolution
//! workload (terminals x evolutions), with per-job and per-terminal tables and a bar plot for
//! one terminal count, or a sweep over 4 to 1024 terminals with a scaling plot and the
//! planner's own time.

use crate::error::{ExperimentError, Result};
use crate::sched_plot::{plot_bars, plot_scaling};
use nestevo_core::error::write_atomic;
use nestevo_sched::policy::Policy;
use nestevo_sched::workload::{evolutions, jobs_file, Models, Scenario};
use nestevo_sched::{mean_latency, plan, simulate, size, Device, JobTimes, MemoryModel, TimeModel};
use std::path::PathBuf;

pub struct SimulateOptions {
    /// Terminals asking for evolutions (ignored with `sweep`).
    pub terminals: usize,
    /// Also run 4, 16, 64, 256 and 1024 terminals.
    pub sweep: bool,
    pub evolutions: usize,
    pub window_s: f64,
    pub jitter_s: f64,
    pub p_coevolve: f64,
    pub step_scale: f64,
    /// Write the workload (for `terminals`) as a jobs file here.
    pub write_jobs: Option<PathBuf>,
    pub memory_mb: f64,
    pub util: f64,
    pub speedup: f64,
    pub model_dir: PathBuf,
    pub seed: u64,
    /// Write results (CSV, JSON, PNG) here.
    pub out: Option<PathBuf>,
}

/// One policy's simulation.
pub struct PolicyRun {
    pub policy: Policy,
    pub mean_latency_s: f64,
    pub per_terminal_s: Vec<(String, f64)>,
    pub peak_mb: f64,
    pub times: Vec<JobTimes>,
}

/// Every policy at one terminal count.
pub struct CountRun {
    pub terminals: usize,
    pub jobs: usize,
    pub runs: Vec<PolicyRun>,
    /// FIFO's mean latency, the reference of the percentages.
    pub fifo_s: f64,
}

pub struct SimulateReport {
    pub counts: Vec<CountRun>,
    /// The knapsack planner's time over 1024 waiting jobs (ms), with `sweep`.
    pub planner_ms: Option<f64>,
    /// What `summary.json` holds.
    pub summary: serde_json::Map<String, serde_json::Value>,
}

fn bad(m: String) -> ExperimentError {
    ExperimentError::BadInput(m)
}

fn check(o: &SimulateOptions) -> Result<()> {
    if o.terminals == 0 {
        return Err(bad("--terminals 0: allowed is 1 or more".into()));
    }
    if o.evolutions == 0 {
        return Err(bad("--evolutions 0: allowed is 1 or more".into()));
    }
    if !(0.0..=1.0).contains(&o.p_coevolve) {
        return Err(bad(format!(
            "--p-coevolve {}: allowed is 0 to 1",
            o.p_coevolve
        )));
    }
    if !(o.speedup.is_finite() && o.speedup > 0.0) {
        return Err(bad(format!("--speedup {}: allowed is above 0", o.speedup)));
    }
    if !(o.window_s.is_finite() && o.window_s > 0.0) {
        return Err(bad(format!(
            "--window-s {}: allowed is a finite number of seconds above 0",
            o.window_s
        )));
    }
    if !(o.jitter_s.is_finite() && o.jitter_s >= 0.0) {
        return Err(bad(format!(
            "--jitter-s {}: allowed is a finite number of seconds, 0 or more",
            o.jitter_s
        )));
    }
    if !(o.step_scale.is_finite() && o.step_scale > 0.0) {
        return Err(bad(format!(
            "--step-scale {}: allowed is above 0",
            o.step_scale
        )));
    }
    Ok(())
}

/// Every policy's simulation of the scenario(s); files written when `o.out` is set.
pub fn run(o: &SimulateOptions, mem: &MemoryModel, time: &TimeModel) -> Result<SimulateReport> {
    check(o)?;
    let models = Models::load(&o.model_dir)?;
    let dev = Device {
        budget_mb: o.memory_mb,
        util: o.util,
    };
    let scenario = |terminals: usize| Scenario {
        terminals,
        evolutions: o.evolutions,
        window_s: o.window_s,
        jitter_s: o.jitter_s,
        p_coevolve: o.p_coevolve,
        step_scale: o.step_scale,
        seed: o.seed,
    };
    if let Some(f) = &o.write_jobs {
        let text = jobs_file(&evolutions(&models, &scenario(o.terminals)));
        write_atomic(f, text.as_bytes())?;
    }
    if let Some(d) = &o.out {
        std::fs::create_dir_all(d)
            .map_err(|e| ExperimentError::Fault(format!("{}: cannot create: {e}", d.display())))?;
    }
    let counts: Vec<usize> = if o.sweep {
        vec![4, 16, 64, 256, 1024]
    } else {
        vec![o.terminals]
    };
    let sized = |s: &Scenario| {
        let mut j = size(&evolutions(&models, s), mem, time);
        for x in &mut j {
            x.seconds /= o.speedup;
        }
        j
    };
    let mut report = SimulateReport {
        counts: Vec::new(),
        planner_ms: None,
        summary: serde_json::Map::new(),
    };
    for &n in &counts {
        let jobs = sized(&scenario(n));
        let mut runs = Vec::new();
        for p in Policy::ALL {
            let (times, peak) = simulate(p, &jobs, &dev, o.seed)?;
            let (all, per) = mean_latency(&times);
            runs.push(PolicyRun {
                policy: p,
                mean_latency_s: all,
                per_terminal_s: per,
                peak_mb: peak,
                times,
            });
        }
        let fifo_s = runs
            .iter()
            .find(|r| r.policy == Policy::Fifo)
            .map(|r| r.mean_latency_s)
            .expect("fifo");
        let mut row = serde_json::Map::new();
        for r in &runs {
            row.insert(
                r.policy.name().into(),
                serde_json::json!({"mean_latency_s": r.mean_latency_s, "peak_mb": r.peak_mb,
                    "per_terminal_s": r.per_terminal_s,
                    "vs_fifo_pct": 100.0 * (r.mean_latency_s / fifo_s - 1.0)}),
            );
        }
        if let (Some(d), false) = (&o.out, o.sweep) {
            write_one_count(d, n, o.evolutions, &runs)?;
        }
        report
            .summary
            .insert(n.to_string(), serde_json::Value::Object(row));
        report.counts.push(CountRun {
            terminals: n,
            jobs: jobs.len(),
            runs,
            fifo_s,
        });
    }
    if o.sweep {
        // The planner's own time with 1024 waiting jobs on an idle device.
        let jobs = sized(&Scenario {
            evolutions: 1,
            ..scenario(1024)
        });
        let t0 = std::time::Instant::now();
        let reps = 5;
        for _ in 0..reps {
            plan(Policy::Knapsack, &jobs, o.memory_mb, o.seed)?;
        }
        let ms = t0.elapsed().as_secs_f64() * 1e3 / reps as f64;
        report
            .summary
            .insert("planner_ms_1024_jobs".into(), serde_json::json!(ms));
        report.planner_ms = Some(ms);
    }
    if let Some(d) = &o.out {
        let mut csv = String::from("terminals,policy,mean_latency_s,peak_mb\n");
        for c in &report.counts {
            for r in &c.runs {
                csv += &format!(
                    "{},{},{:.3},{:.1}\n",
                    c.terminals,
                    r.policy.name(),
                    r.mean_latency_s,
                    r.peak_mb
                );
            }
        }
        write_atomic(&d.join("latency.csv"), csv.as_bytes())?;
        let summary = serde_json::to_string_pretty(&report.summary).expect("a JSON map");
        write_atomic(&d.join("summary.json"), summary.as_bytes())?;
        if o.sweep {
            let series: Vec<(String, Vec<(f64, f64)>)> = Policy::ALL
                .iter()
                .map(|p| {
                    let pts = report
                        .counts
                        .iter()
                        .flat_map(|c| {
                            c.runs
                                .iter()
                                .filter(|r| r.policy == *p)
                                .map(|r| (c.terminals as f64, r.mean_latency_s))
                        })
                        .collect();
                    (p.name().to_string(), pts)
                })
                .collect();
            let png = d.join("scaling.png");
            plot_scaling(
                &png,
                "Mean evolution latency against terminals (discrete-event, predicted times)",
                &series,
            )
            .map_err(|e| ExperimentError::Fault(format!("{}: cannot draw: {e}", png.display())))?;
        }
    }
    Ok(report)
}

/// Per-job times of every policy, the per-terminal table and its bar plot.
fn write_one_count(
    d: &std::path::Path,
    n: usize,
    evolutions: usize,
    runs: &[PolicyRun],
) -> Result<()> {
    for r in runs {
        let mut csv =
            String::from("id,terminal,arrival_s,start_s,end_s,wait_s,latency_s,memory_mb\n");
        for t in &r.times {
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
        write_atomic(
            &d.join(format!("times-{}.csv", r.policy.name())),
            csv.as_bytes(),
        )?;
    }
    let mut groups: Vec<String> = runs[0].per_terminal_s.iter().map(|t| t.0.clone()).collect();
    groups.push("all".into());
    let series: Vec<(String, Vec<f64>)> = runs
        .iter()
        .map(|r| {
            (
                r.policy.name().to_string(),
                r.per_terminal_s
                    .iter()
                    .map(|t| t.1)
                    .chain([r.mean_latency_s])
                    .collect(),
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
    write_atomic(&d.join("per-terminal.csv"), csv.as_bytes())?;
    let png = d.join("latency.png");
    plot_bars(
        &png,
        &format!(
            "Mean evolution latency per terminal ({n} terminals x {evolutions} evolutions, discrete-event)"
        ),
        &groups,
        &series,
    )
    .map_err(|e| ExperimentError::Fault(format!("{}: cannot draw: {e}", png.display())))
}
