//! The discrete-event simulator: any policy over predicted times, jobs arriving over time.
//!
//! Events are arrivals and finishes; at each, the policy chooses among the waiting jobs with
//! the memory left free by the running ones. Running jobs share the device by processor
//! sharing: a job alone uses a fraction `util` of the device (its solo time is its predicted
//! time), and with k jobs running each progresses at rate `1 / max(1, k * util)` of its solo
//! speed. `util = 1` means no gain from running jobs together (a saturated device); a small
//! `util` is a device a single small job leaves mostly idle (the paper's GPU case). The
//! latency of a job is `end - arrival` = wait `t_w` + training `t_r`.

use super::error::{Result, SchedError};
use super::job::Sized;
use super::policy::{choose, validate, Policy, State};
use nestevo_core::error::Invalid;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::HashMap;

/// The device the jobs share.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Device {
    pub budget_mb: f64,
    /// Share of the device one job uses alone (0, 1].
    pub util: f64,
}

/// When one job waited and ran.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobTimes {
    pub id: String,
    pub terminal: String,
    pub arrival_s: f64,
    pub start_s: f64,
    pub end_s: f64,
    pub memory_mb: f64,
}

impl JobTimes {
    pub fn wait_s(&self) -> f64 {
        self.start_s - self.arrival_s
    }
    pub fn latency_s(&self) -> f64 {
        self.end_s - self.arrival_s
    }
}

/// Runs `jobs` under `policy`; times in the jobs' order. Also returns the peak of the running
/// jobs' memory (MB), which never exceeds the budget.
pub fn simulate(
    policy: Policy,
    jobs: &[Sized],
    dev: &Device,
    seed: u64,
) -> Result<(Vec<JobTimes>, f64)> {
    if !(dev.util > 0.0 && dev.util <= 1.0) {
        return Err(Invalid::new("", "util", dev.util, "a share of the device in (0, 1]").into());
    }
    let units = validate(jobs, dev.budget_mb)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pending: Vec<usize> = (0..jobs.len()).collect();
    pending.sort_by(|&a, &b| {
        jobs[a]
            .arrival_s
            .total_cmp(&jobs[b].arrival_s)
            .then(a.cmp(&b))
    });
    let mut pending = std::collections::VecDeque::from(pending);
    let mut waiting: Vec<usize> = Vec::new();
    // (job, remaining solo seconds)
    let mut running: Vec<(usize, f64)> = Vec::new();
    let mut start = vec![f64::NAN; jobs.len()];
    let mut end = vec![f64::NAN; jobs.len()];
    let mut served: HashMap<String, f64> = HashMap::new();
    let (mut t, mut used, mut peak) = (0.0f64, 0.0f64, 0.0f64);
    loop {
        while pending.front().is_some_and(|&j| jobs[j].arrival_s <= t) {
            waiting.push(pending.pop_front().expect("front"));
        }
        if !waiting.is_empty() {
            let view: Vec<&Sized> = waiting.iter().map(|&j| &jobs[j]).collect();
            let state = State {
                waiting: &view,
                free_mb: dev.budget_mb - used,
                running: running.len(),
                served: &served,
            };
            let mut pick = choose(policy, &state, units, &mut rng);
            pick.sort_unstable();
            for &k in pick.iter().rev() {
                let j = waiting.remove(k);
                start[j] = t;
                used += jobs[j].memory_mb;
                *served.entry(jobs[j].terminal.clone()).or_default() += jobs[j].seconds;
                running.push((j, jobs[j].seconds));
            }
            peak = peak.max(used);
            if used > dev.budget_mb + 1e-6 {
                return Err(SchedError::Fault(format!(
                    "policy {policy} started {used:.1} MB on a {:.1} MB budget",
                    dev.budget_mb
                )));
            }
        }
        if running.is_empty() {
            match pending.front() {
                Some(&j) => {
                    t = t.max(jobs[j].arrival_s);
                    continue;
                }
                None if waiting.is_empty() => break,
                None => {
                    return Err(SchedError::Fault(format!(
                        "policy {policy} leaves {} jobs waiting on an idle device",
                        waiting.len()
                    )))
                }
            }
        }
        let rate = 1.0 / (running.len() as f64 * dev.util).max(1.0);
        let to_finish = running.iter().map(|r| r.1).fold(f64::INFINITY, f64::min) / rate;
        let to_arrive = pending
            .front()
            .map_or(f64::INFINITY, |&j| jobs[j].arrival_s - t);
        let dt = to_finish.min(to_arrive).max(0.0);
        t += dt;
        for r in running.iter_mut() {
            r.1 -= dt * rate;
        }
        running.retain(|&(j, left)| {
            let done = left <= 1e-9 * jobs[j].seconds.max(1.0);
            if done {
                end[j] = t;
                used -= jobs[j].memory_mb;
            }
            !done
        });
        if running.is_empty() {
            used = 0.0;
        }
    }
    let times = jobs
        .iter()
        .enumerate()
        .map(|(k, j)| JobTimes {
            id: j.id.clone(),
            terminal: j.terminal.clone(),
            arrival_s: j.arrival_s,
            start_s: start[k],
            end_s: end[k],
            memory_mb: j.memory_mb,
        })
        .collect();
    Ok((times, peak))
}

/// Mean latency (s) over all jobs and per terminal (sorted by terminal).
pub fn mean_latency(times: &[JobTimes]) -> (f64, Vec<(String, f64)>) {
    let mut per: std::collections::BTreeMap<String, (f64, usize)> = Default::default();
    for t in times {
        let e = per.entry(t.terminal.clone()).or_default();
        e.0 += t.latency_s();
        e.1 += 1;
    }
    let all = times.iter().map(JobTimes::latency_s).sum::<f64>() / times.len().max(1) as f64;
    (
        all,
        per.into_iter()
            .map(|(k, (s, n))| (k, s / n as f64))
            .collect(),
    )
}

/// A terminal's evolution in the terms of Eq. 6-8: its new model is ready when its last job
/// ends, so `t_w + t_r = last end - first arrival`; `t_r` is the time any of its jobs was
/// training (the union of their run intervals), `t_w` the rest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TerminalTimes {
    pub terminal: String,
    pub t_w: f64,
    pub t_r: f64,
}

/// Per terminal (sorted by name), from one window's job times.
pub fn terminal_times(times: &[JobTimes]) -> Vec<TerminalTimes> {
    let mut by: std::collections::BTreeMap<&str, Vec<&JobTimes>> = Default::default();
    for t in times {
        by.entry(&t.terminal).or_default().push(t);
    }
    by.into_iter()
        .map(|(term, mut v)| {
            v.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
            let first = v.iter().map(|t| t.arrival_s).fold(f64::INFINITY, f64::min);
            let last = v.iter().map(|t| t.end_s).fold(f64::NEG_INFINITY, f64::max);
            let (mut busy, mut cur) = (0.0, f64::NEG_INFINITY);
            for t in &v {
                let s = t.start_s.max(cur);
                if t.end_s > s {
                    busy += t.end_s - s;
                }
                cur = cur.max(t.end_s);
            }
            TerminalTimes {
                terminal: term.to_string(),
                t_w: (last - first - busy).max(0.0),
                t_r: busy,
            }
        })
        .collect()
}
