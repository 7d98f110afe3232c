//! Profiled runs: one JSON object a line in `DIR/runs.jsonl`, written by `nestevo sched
//! profile` (the runners live in `evolve::jobs`, feature `torch`), read by `nestevo sched fit`.
//! Held-out split: every fifth run (index % 5 == 4) is held out, the rest train the predictor.

use super::error::{Result, SchedError};
use super::job::{JobKind, Work};
use super::memory::MemoryModel;
use super::predict::{mape, Mlp, Sample};
use crate::error::IoError;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One real training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileRun {
    pub id: String,
    pub kind: JobKind,
    /// The models trained (names).
    pub models: Vec<String>,
    pub work: Work,
    /// LibTorch intra-op threads of the run.
    pub threads: usize,
    /// Wall time of the training (s), model built and data ready before the clock starts.
    pub seconds: f64,
    /// CPU time of the run's threads (s): what the run costs without other processes on
    /// the cores (the machine the profile ran on was shared).
    #[serde(default)]
    pub cpu_seconds: f64,
    /// The process's resident-set growth over the job (MB): peak RSS during the job (VmHWM,
    /// reset through /proc/self/clear_refs before it) minus the RSS before the models were built.
    pub peak_mb: f64,
}

impl ProfileRun {
    /// The run as a training sample of the predictor: its wall time, or (`cpu`) its CPU time.
    pub fn sample(&self, cpu: bool) -> Sample {
        Sample {
            kind: self.kind,
            work: self.work,
            seconds: self.time(cpu),
        }
    }

    pub fn time(&self, cpu: bool) -> f64 {
        if cpu {
            self.cpu_seconds
        } else {
            self.seconds
        }
    }
}

pub fn read_runs(dir: &Path) -> Result<Vec<ProfileRun>> {
    let path = dir.join("runs.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| IoError::new(&path, "read", e))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(k, l)| {
            serde_json::from_str(l).map_err(|e| {
                SchedError::Invalid(format!(
                    "{}: line {}: not a profiled run: {e}",
                    path.display(),
                    k + 1
                ))
            })
        })
        .collect()
}

/// Training and held-out runs.
pub fn split(runs: &[ProfileRun]) -> (Vec<&ProfileRun>, Vec<&ProfileRun>) {
    let (mut tr, mut ho) = (Vec::new(), Vec::new());
    for (k, r) in runs.iter().enumerate() {
        if k % 5 == 4 {
            ho.push(r);
        } else {
            tr.push(r);
        }
    }
    (tr, ho)
}

/// Error of a model on some runs: MAPE and worst case (%).
#[derive(Debug, Clone, Serialize)]
pub struct Errors {
    pub runs: usize,
    pub mape_pct: f64,
    pub worst_pct: f64,
}

/// How well the predictor, the baseline and the memory model do on the held-out runs.
#[derive(Debug, Clone, Serialize)]
pub struct FitReport {
    /// "wall" or "cpu": which time the predictor learnt.
    pub time: &'static str,
    pub trained_on: usize,
    pub held_out: usize,
    pub mlp: Errors,
    pub baseline: Errors,
    /// The workspace the memory model uses (MB): the median over the training runs of
    /// measured peak minus the model's other terms.
    pub workspace_mb: f64,
    /// The memory model against measured peaks on held-out runs, per job kind.
    pub memory: Vec<(JobKind, Errors)>,
    pub time_per_kind: Vec<(JobKind, Errors)>,
}

fn errors(pred: &[f64], truth: &[f64]) -> Errors {
    let (m, w) = mape(pred, truth);
    Errors {
        runs: pred.len(),
        mape_pct: m,
        worst_pct: w,
    }
}

/// The workspace that makes the memory model fit the training runs' peaks (median residual,
/// at least 0).
pub fn fit_workspace(runs: &[&ProfileRun]) -> f64 {
    let m0 = MemoryModel {
        workspace_mb: 0.0,
        ..Default::default()
    };
    let mut r: Vec<f64> = runs
        .iter()
        .map(|p| p.peak_mb - m0.estimate(&p.work).total_mb)
        .collect();
    if r.is_empty() {
        return 0.0;
    }
    r.sort_by(f64::total_cmp);
    r[r.len() / 2].max(0.0)
}

/// Scores `mlp` (and its baseline) on `held`'s wall (or CPU) times, and the memory model with
/// `workspace_mb` on their measured peaks.
pub fn report(mlp: &Mlp, held: &[&ProfileRun], workspace_mb: f64, cpu: bool) -> FitReport {
    let truth: Vec<f64> = held.iter().map(|r| r.time(cpu)).collect();
    let p: Vec<f64> = held.iter().map(|r| mlp.predict(r.kind, &r.work)).collect();
    let b: Vec<f64> = held.iter().map(|r| mlp.baseline.predict(&r.work)).collect();
    let mem = MemoryModel {
        workspace_mb,
        ..Default::default()
    };
    let mut memory = Vec::new();
    let mut time_per_kind = Vec::new();
    for k in JobKind::ALL {
        let of: Vec<&&ProfileRun> = held.iter().filter(|r| r.kind == k).collect();
        if of.is_empty() {
            continue;
        }
        let est: Vec<f64> = of.iter().map(|r| mem.estimate(&r.work).total_mb).collect();
        let peak: Vec<f64> = of.iter().map(|r| r.peak_mb.max(1e-3)).collect();
        memory.push((k, errors(&est, &peak)));
        let tp: Vec<f64> = of.iter().map(|r| mlp.predict(r.kind, &r.work)).collect();
        let tt: Vec<f64> = of.iter().map(|r| r.time(cpu)).collect();
        time_per_kind.push((k, errors(&tp, &tt)));
    }
    FitReport {
        time: if cpu { "cpu" } else { "wall" },
        trained_on: mlp.trained_on,
        held_out: held.len(),
        mlp: errors(&p, &truth),
        baseline: errors(&b, &truth),
        workspace_mb,
        memory,
        time_per_kind,
    }
}
