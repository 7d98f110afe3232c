//! Profiled runs: one JSON object a line in `DIR/runs.jsonl`, written by `nestevo sched
//! profile` (the runners live in `evolve::jobs`, feature `torch`), read by `nestevo sched fit`.
//! Held-out split: every fifth run (index % 5 == 4) is held out, the rest train the predictor.

use super::error::{Result, SchedError};
use super::job::{JobKind, Work};
use super::memory::MemoryModel;
use super::predict::{mape, Mlp, Sample};
use nestevo_core::error::IoError;
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
    /// The per-kind terms (fitted on the training runs), when fitted.
    pub memory_per_kind: Option<[super::memory::KindFit; 4]>,
    /// The memory model against measured peaks on held-out runs, per job kind.
    pub memory: Vec<(JobKind, Errors)>,
    /// The same with the one workspace for every kind.
    pub memory_one_workspace: Vec<(JobKind, Errors)>,
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

/// Runs of a kind needed to fit its own terms; with fewer, the kind keeps the one workspace.
pub const MIN_KIND_RUNS: usize = 5;

/// The per-kind terms of the memory model (`memory::KindFit`): for each kind, the workspace
/// `c` and activation scale `s` minimising the squared relative error
/// `sum ((c + s x - y) / peak)^2` over its training runs, with `x` the activation and gradient
/// terms and `y` the measured peak minus the parameter and optimizer terms (weighted least
/// squares, closed form); `c`, `s` kept at 0 or more (one is refitted alone when the other
/// comes out negative). A kind with fewer than `MIN_KIND_RUNS` runs, or a degenerate fit,
/// gets `(workspace, 1)`.
pub fn fit_memory(runs: &[&ProfileRun], workspace: f64) -> [super::memory::KindFit; 4] {
    use super::memory::KindFit;
    let m1 = MemoryModel {
        workspace_mb: 0.0,
        ..Default::default()
    };
    let fallback = KindFit {
        workspace_mb: workspace,
        act_scale: 1.0,
    };
    let mut out = [fallback; 4];
    for k in JobKind::ALL {
        let pts: Vec<(f64, f64, f64)> = runs
            .iter()
            .filter(|r| r.kind == k)
            .map(|r| {
                let e = m1.estimate(&r.work);
                let x = e.activations_mb + e.grads_mb;
                let y = r.peak_mb - e.params_mb - e.optimizer_mb;
                (x, y, 1.0 / r.peak_mb.max(1.0).powi(2))
            })
            .collect();
        if pts.len() < MIN_KIND_RUNS {
            continue;
        }
        let (mut s00, mut s01, mut s11, mut b0, mut b1) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for &(x, y, w) in &pts {
            s00 += w;
            s01 += w * x;
            s11 += w * x * x;
            b0 += w * y;
            b1 += w * x * y;
        }
        let det = s00 * s11 - s01 * s01;
        let (mut c, mut s) = if det.abs() > 1e-12 * s00 * s11.max(1e-12) {
            ((b0 * s11 - b1 * s01) / det, (s00 * b1 - s01 * b0) / det)
        } else {
            continue;
        };
        if c < 0.0 {
            c = 0.0;
            s = if s11 > 0.0 { (b1 / s11).max(0.0) } else { 1.0 };
        } else if s < 0.0 {
            s = 0.0;
            c = (b0 / s00).max(0.0);
        }
        if c.is_finite() && s.is_finite() {
            out[k.index()] = KindFit {
                workspace_mb: c,
                act_scale: s,
            };
        }
    }
    out
}

/// Scores `mlp` (and its baseline) on `held`'s wall (or CPU) times, and the memory model with
/// `workspace_mb` on their measured peaks (per kind where `mlp.memory_per_kind` is set, with the
/// one-workspace model's errors beside them in `memory_one_workspace`).
pub fn report(mlp: &Mlp, held: &[&ProfileRun], workspace_mb: f64, cpu: bool) -> FitReport {
    let truth: Vec<f64> = held.iter().map(|r| r.time(cpu)).collect();
    let p: Vec<f64> = held.iter().map(|r| mlp.predict(r.kind, &r.work)).collect();
    let b: Vec<f64> = held.iter().map(|r| mlp.baseline.predict(&r.work)).collect();
    let one = MemoryModel {
        workspace_mb,
        ..Default::default()
    };
    let mem = MemoryModel {
        per_kind: mlp.memory_per_kind,
        ..one
    };
    let mut memory = Vec::new();
    let mut memory_one_workspace = Vec::new();
    let mut time_per_kind = Vec::new();
    for k in JobKind::ALL {
        let of: Vec<&&ProfileRun> = held.iter().filter(|r| r.kind == k).collect();
        if of.is_empty() {
            continue;
        }
        let est: Vec<f64> = of
            .iter()
            .map(|r| mem.estimate_kind(k, &r.work).total_mb)
            .collect();
        let est1: Vec<f64> = of.iter().map(|r| one.estimate(&r.work).total_mb).collect();
        let peak: Vec<f64> = of.iter().map(|r| r.peak_mb.max(1e-3)).collect();
        memory.push((k, errors(&est, &peak)));
        memory_one_workspace.push((k, errors(&est1, &peak)));
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
        memory_per_kind: mlp.memory_per_kind,
        memory,
        memory_one_workspace,
        time_per_kind,
    }
}
