//! The scheduler in the loop: a window's t_w and t_r from `sched::simulate`.
//!
//! The edge runs a window's jobs for real one after another (so that runs stay seeded and
//! reproducible) and records each job's measured solo time and its modelled memory
//! (`sched::MemoryModel` on the models' descriptions). This module then replays the window on
//! the experiment's `[sched]` device and policy, as the edge server would have run it:
//!
//! - a window is a sequence of stages; a stage starts when the previous one has ended;
//! - a **serial** stage (labelling every upload; FedAvg + reprogramming + relabelling by the new
//!   global model) holds the device alone for its measured (or, on the simulated chip, modelled)
//!   seconds;
//! - a **jobs** stage (the generator; the mutual-learning pairs; the distillations or
//!   adaptations) gives its jobs to `sched::simulate` with the policy, the budget and `util`,
//!   all arriving at the stage's start (the `sched` API has no dependencies between jobs, so
//!   the dependency of the pairs on the generator and of the distillations on FedAvg is the
//!   stage boundary); the stage ends when its last job ends;
//! - a terminal's evolution is requested at the window's start (time 0), so with its jobs'
//!   simulated run intervals `sched::terminal_times` gives `t_r` = the time any of its own jobs
//!   ran (the union of their intervals, at the simulated rate) and `t_w` = the rest until its
//!   last job ends (labelling, the shared stages, waiting behind other terminals' jobs). A
//!   terminal without jobs has t_w = t_r = 0.
//!
//! Under `fifo` this is the serial clock (every job alone, in upload order); under `knapsack`
//! with room for the pairs together and `util = 0.5`, two pairs run side by side at full speed,
//! so the second terminal no longer waits for the first's pair.

use super::config::SchedSpec;
use super::error::{EvolveError, Result};
use nestevo_sched::{simulate, terminal_times, Device, JobKind, JobTimes, Policy, Sized};
use serde::{Deserialize, Serialize};

/// One training job of a window, as measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageJob {
    pub id: String,
    pub kind: JobKind,
    /// The terminal whose evolution it serves (`None`: shared, e.g. the generator).
    pub terminal: Option<String>,
    /// Modelled memory (MB).
    pub memory_mb: f64,
    /// Measured solo training time (s).
    pub seconds: f64,
}

/// One stage of a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Stage {
    /// Work that holds the device alone for `seconds`.
    Serial { name: String, seconds: f64 },
    /// Training jobs, all arriving at the stage's start, scheduled by the policy.
    Jobs { name: String, jobs: Vec<StageJob> },
}

/// A job's place in the replayed window (seconds from the window's start).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduledJob {
    pub id: String,
    pub kind: JobKind,
    pub terminal: Option<String>,
    pub stage: usize,
    pub memory_mb: f64,
    /// Measured solo time (s).
    pub solo_s: f64,
    pub arrival_s: f64,
    pub start_s: f64,
    pub end_s: f64,
}

/// The replayed window: every stage, every job's times, the peak memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowSchedule {
    pub policy: String,
    pub budget_mb: f64,
    pub util: f64,
    pub stages: Vec<Stage>,
    /// End of each stage (s from the window's start).
    pub stage_end_s: Vec<f64>,
    pub jobs: Vec<ScheduledJob>,
    /// Peak of the running jobs' modelled memory (MB), never above the budget.
    pub peak_mb: f64,
}

/// Label of shared jobs for the policies (fair share counts them as one more party).
const SHARED: &str = "(shared)";

/// Replays `stages` under `spec`; `seed` draws the random policy's orders (stage k uses
/// `seed + k`). A job alone over the budget is refused naming `sched.memory_mb`.
pub fn schedule(stages: &[Stage], spec: &SchedSpec, seed: u64) -> Result<WindowSchedule> {
    let policy: Policy = spec
        .policy
        .parse()
        .map_err(|e: nestevo_sched::SchedError| EvolveError::BadInput(e.to_string()))?;
    let dev = Device {
        budget_mb: spec.memory_mb,
        util: spec.util,
    };
    let (mut t, mut peak) = (0.0f64, 0.0f64);
    let mut ends = Vec::with_capacity(stages.len());
    let mut out = Vec::new();
    for (k, st) in stages.iter().enumerate() {
        match st {
            Stage::Serial { seconds, .. } => t += seconds.max(0.0),
            Stage::Jobs { name, jobs } if !jobs.is_empty() => {
                let sized: Vec<Sized> = jobs
                    .iter()
                    .map(|j| Sized {
                        id: j.id.clone(),
                        kind: j.kind,
                        terminal: j.terminal.clone().unwrap_or_else(|| SHARED.into()),
                        memory_mb: j.memory_mb,
                        // simulate needs a positive time; a job this short ends at once.
                        seconds: j.seconds.max(1e-9),
                        alpha: 1.0,
                        arrival_s: t,
                    })
                    .collect();
                let (times, p) = simulate(policy, &sized, &dev, seed.wrapping_add(k as u64))
                    .map_err(|e| {
                        EvolveError::BadInput(format!(
                            "stage `{name}` on the [sched] device (sched.memory_mb = {}, \
                             sched.policy = {}): {e}",
                            spec.memory_mb, spec.policy
                        ))
                    })?;
                peak = peak.max(p);
                for (j, tm) in jobs.iter().zip(&times) {
                    out.push(ScheduledJob {
                        id: j.id.clone(),
                        kind: j.kind,
                        terminal: j.terminal.clone(),
                        stage: k,
                        memory_mb: j.memory_mb,
                        solo_s: j.seconds,
                        arrival_s: tm.arrival_s,
                        start_s: tm.start_s,
                        end_s: tm.end_s,
                    });
                }
                t = times.iter().map(|x| x.end_s).fold(t, f64::max);
            }
            Stage::Jobs { .. } => {}
        }
        ends.push(t);
    }
    Ok(WindowSchedule {
        policy: spec.policy.clone(),
        budget_mb: spec.memory_mb,
        util: spec.util,
        stages: stages.to_vec(),
        stage_end_s: ends,
        jobs: out,
        peak_mb: peak,
    })
}

impl WindowSchedule {
    /// `(t_w, t_r)` of `terminal`: `sched::terminal_times` over its own jobs, its request
    /// arriving at the window's start; (0, 0) without jobs.
    pub fn terminal_times(&self, terminal: &str) -> (f64, f64) {
        let own: Vec<JobTimes> = self
            .jobs
            .iter()
            .filter(|j| j.terminal.as_deref() == Some(terminal))
            .map(|j| JobTimes {
                id: j.id.clone(),
                terminal: terminal.to_string(),
                arrival_s: 0.0,
                start_s: j.start_s,
                end_s: j.end_s,
                memory_mb: j.memory_mb,
            })
            .collect();
        match terminal_times(&own).first() {
            Some(tt) => (tt.t_w, tt.t_r),
            None => (0.0, 0.0),
        }
    }

    /// End of the last stage (s from the window's start).
    pub fn end_s(&self) -> f64 {
        self.stage_end_s.last().copied().unwrap_or(0.0)
    }
}

/// Mean t_w, t_r and t_w + t_r (s) over every terminal of every window, when each recorded
/// window is replayed under `policy` (on the recorded budget and util unless `device` gives
/// others): the same measured jobs, another scheduler. Per policy: (policy, mean t_w, mean
/// t_r, mean latency).
pub fn replay(
    windows: &[WindowSchedule],
    policies: &[&str],
    device: Option<(f64, f64)>,
    seed: u64,
) -> Result<Vec<(String, f64, f64, f64)>> {
    let mut out = Vec::new();
    for &p in policies {
        let (mut tw, mut tr, mut n) = (0.0, 0.0, 0usize);
        for (k, w) in windows.iter().enumerate() {
            let spec = SchedSpec {
                policy: p.to_string(),
                memory_mb: device.map_or(w.budget_mb, |d| d.0),
                util: device.map_or(w.util, |d| d.1),
                ..Default::default()
            };
            let s = schedule(&w.stages, &spec, seed.wrapping_add(k as u64))?;
            let mut terms: Vec<&str> = s
                .jobs
                .iter()
                .filter_map(|j| j.terminal.as_deref())
                .collect();
            terms.sort_unstable();
            terms.dedup();
            for t in terms {
                let (a, b) = s.terminal_times(t);
                tw += a;
                tr += b;
                n += 1;
            }
        }
        let n = n.max(1) as f64;
        out.push((p.to_string(), tw / n, tr / n, (tw + tr) / n));
    }
    Ok(out)
}

/// The window schedules a run wrote (`rounds/w<k>/schedule.json`, from w0 up to the first
/// missing one); an error when there is none.
pub fn read_schedules(run: &std::path::Path) -> Result<Vec<WindowSchedule>> {
    let mut windows = Vec::new();
    for w in 0.. {
        let p = run
            .join("rounds")
            .join(format!("w{w}"))
            .join("schedule.json");
        if !p.is_file() {
            break;
        }
        let text = std::fs::read_to_string(&p)
            .map_err(|e| EvolveError::Fault(format!("{}: cannot read: {e}", p.display())))?;
        let s: WindowSchedule = serde_json::from_str(&text).map_err(|e| {
            EvolveError::BadInput(format!("{}: not a window schedule: {e}", p.display()))
        })?;
        windows.push(s);
    }
    if windows.is_empty() {
        return Err(EvolveError::BadInput(format!(
            "{}: no rounds/w0/schedule.json (a run of `nestevo evolve run` writes one per window)",
            run.display()
        )));
    }
    Ok(windows)
}
