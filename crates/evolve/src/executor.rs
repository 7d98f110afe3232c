//! The scheduler's live executor: real concurrent training of a jobs file. The policy
//! (`sched::policy::choose`) decides on every arrival and finish; each started job trains in its
//! own thread with `cores / running` LibTorch threads; a sampler records the resident set so the
//! planned peak can be set against the measured one.

use super::error::{EvolveError, Result};
use super::jobs::{prepare, reset_peak, rss_mb, train};
use nestevo_core::error::write_atomic;
use nestevo_sched::policy::{choose, validate, Policy, State};
use nestevo_sched::{Job, Sized};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a live run needs besides the jobs.
pub struct LiveConfig {
    pub policy: Policy,
    /// The budget the planner holds the jobs' predicted memory to (MB).
    pub memory_mb: f64,
    /// CPU cores split between the running jobs.
    pub cores: i32,
    pub seed: u64,
    /// The teacher of distillation jobs.
    pub teacher: PathBuf,
}

/// One job's times (seconds from the start of the run).
#[derive(Debug, Clone, Serialize)]
pub struct JobTimes {
    pub id: String,
    pub terminal: String,
    pub arrival_s: f64,
    pub start_s: f64,
    pub end_s: f64,
    pub predicted_s: f64,
    pub memory_mb: f64,
}

/// The run as a whole.
#[derive(Debug, Clone, Serialize)]
pub struct LiveSummary {
    pub policy: String,
    pub jobs: usize,
    pub cores: i32,
    pub budget_mb: f64,
    pub planned_peak_mb: f64,
    pub measured_peak_growth_mb: f64,
    pub margin_mb: f64,
    pub mean_latency_s: f64,
    pub makespan_s: f64,
}

pub struct LiveReport {
    pub summary: LiveSummary,
    pub jobs: Vec<JobTimes>,
}

impl LiveReport {
    /// `run-<policy>.csv` (per-job times) and `run-<policy>.json` (the summary) in `out`.
    pub fn write(&self, out: &Path) -> Result<()> {
        std::fs::create_dir_all(out)
            .map_err(|e| EvolveError::Fault(format!("{}: cannot create: {e}", out.display())))?;
        let mut csv = String::from("id,terminal,arrival_s,start_s,end_s,predicted_s,memory_mb\n");
        for j in &self.jobs {
            csv += &format!(
                "{},{},{:.3},{:.3},{:.3},{:.3},{:.1}\n",
                j.id, j.terminal, j.arrival_s, j.start_s, j.end_s, j.predicted_s, j.memory_mb
            );
        }
        let p = &self.summary.policy;
        write_atomic(&out.join(format!("run-{p}.csv")), csv.as_bytes())?;
        write_atomic(
            &out.join(format!("run-{p}.json")),
            self.summary_json().as_bytes(),
        )?;
        Ok(())
    }

    /// The summary as pretty JSON (keys ordered as a `serde_json::Value` orders them).
    pub fn summary_json(&self) -> String {
        let v = serde_json::to_value(&self.summary).expect("plain numbers and strings");
        serde_json::to_string_pretty(&v).expect("a JSON value")
    }
}

/// Runs `jobs` (sized as `sized`, the same order) to completion under `c.policy`.
pub fn run_live(jobs: &[Job], sized: &[Sized], c: &LiveConfig) -> Result<LiveReport> {
    if c.cores <= 0 {
        return Err(EvolveError::BadInput(format!(
            "--cores {}: allowed is 1 or more",
            c.cores
        )));
    }
    let units = validate(sized, c.memory_mb).map_err(|e| EvolveError::BadInput(e.to_string()))?;
    let mut rng = ChaCha8Rng::seed_from_u64(c.seed);
    let mut pending: Vec<usize> = (0..jobs.len()).collect();
    pending.sort_by(|&x, &y| sized[x].arrival_s.total_cmp(&sized[y].arrival_s));
    let mut pending = VecDeque::from(pending);
    let mut waiting: Vec<usize> = Vec::new();
    let mut running: HashMap<usize, f64> = HashMap::new();
    let mut served: HashMap<String, f64> = HashMap::new();
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Result<f64>)>();
    // Every job's frames (and teacher labels) are made before the clock and the memory
    // baseline: the runs measure training alone.
    let prepared = jobs
        .iter()
        .enumerate()
        .map(|(j, job)| {
            prepare(job, &c.teacher, c.seed + j as u64, tch::Device::Cpu)
                .map(Arc::new)
                .map_err(|e| context(e, &job.id))
        })
        .collect::<Result<Vec<_>>>()?;
    let rss0 = rss_mb().map(|r| r.0).unwrap_or(0.0);
    reset_peak();
    // A sampler of the resident set, for the peak of every moment (VmHWM gives the same peak).
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut peak: f64 = 0.0;
            while !stop.load(Ordering::Relaxed) {
                if let Some((r, _)) = rss_mb() {
                    peak = peak.max(r);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            peak
        })
    };
    let t0 = Instant::now();
    let (mut start, mut end) = (vec![f64::NAN; jobs.len()], vec![f64::NAN; jobs.len()]);
    let mut used = 0.0f64;
    let mut planned_peak = 0.0f64;
    while !(pending.is_empty() && waiting.is_empty() && running.is_empty()) {
        let now = t0.elapsed().as_secs_f64();
        while pending.front().is_some_and(|&j| sized[j].arrival_s <= now) {
            waiting.push(pending.pop_front().expect("front"));
        }
        if !waiting.is_empty() {
            let view: Vec<&Sized> = waiting.iter().map(|&j| &sized[j]).collect();
            let state = State {
                waiting: &view,
                free_mb: c.memory_mb - used,
                running: running.len(),
                served: &served,
            };
            let mut pick = choose(c.policy, &state, units, &mut rng);
            pick.sort_unstable();
            let n_after = running.len() + pick.len();
            for &k in pick.iter().rev() {
                let j = waiting.remove(k);
                start[j] = now;
                used += sized[j].memory_mb;
                *served.entry(sized[j].terminal.clone()).or_default() += sized[j].seconds;
                running.insert(j, sized[j].memory_mb);
                let threads = (c.cores / n_after as i32).max(1);
                let (tx, job, prep, seed) = (
                    tx.clone(),
                    jobs[j].clone(),
                    prepared[j].clone(),
                    c.seed + j as u64,
                );
                std::thread::spawn(move || {
                    tch::set_num_threads(threads);
                    let r = train(&job, &prep, seed, tch::Device::Cpu).map(|o| o.seconds);
                    let _ = tx.send((j, r));
                });
            }
            planned_peak = planned_peak.max(used);
        }
        // Wait for a finish, or until the next arrival.
        let wait = pending
            .front()
            .map(|&j| (sized[j].arrival_s - t0.elapsed().as_secs_f64()).max(0.0))
            .unwrap_or(3600.0);
        if running.is_empty() {
            std::thread::sleep(Duration::from_secs_f64(wait));
            continue;
        }
        if let Ok((j, r)) = rx.recv_timeout(Duration::from_secs_f64(wait)) {
            r.map_err(|e| context(e, &jobs[j].id))?;
            end[j] = t0.elapsed().as_secs_f64();
            used -= running.remove(&j).expect("running");
        }
    }
    stop.store(true, Ordering::Relaxed);
    let sampled = sampler
        .join()
        .map_err(|_| EvolveError::Fault("the memory sampler panicked".into()))?;
    let hwm = rss_mb().map(|r| r.1).unwrap_or(0.0);
    let measured_peak = (hwm.max(sampled) - rss0).max(0.0);
    let lat: Vec<f64> = (0..jobs.len())
        .map(|j| end[j] - sized[j].arrival_s)
        .collect();
    let mean = lat.iter().sum::<f64>() / lat.len() as f64;
    let summary = LiveSummary {
        policy: c.policy.name().to_string(),
        jobs: jobs.len(),
        cores: c.cores,
        budget_mb: c.memory_mb,
        planned_peak_mb: planned_peak,
        measured_peak_growth_mb: measured_peak,
        margin_mb: c.memory_mb - measured_peak,
        mean_latency_s: mean,
        makespan_s: t0.elapsed().as_secs_f64(),
    };
    let times = (0..jobs.len())
        .map(|j| JobTimes {
            id: sized[j].id.clone(),
            terminal: sized[j].terminal.clone(),
            arrival_s: sized[j].arrival_s,
            start_s: start[j],
            end_s: end[j],
            predicted_s: sized[j].seconds,
            memory_mb: sized[j].memory_mb,
        })
        .collect();
    Ok(LiveReport {
        summary,
        jobs: times,
    })
}

/// The job an error happened in, said first.
fn context(e: EvolveError, id: &str) -> EvolveError {
    match e {
        EvolveError::BadInput(m) => EvolveError::BadInput(format!("job `{id}`: {m}")),
        other => EvolveError::Fault(format!("job `{id}`: {other}")),
    }
}
