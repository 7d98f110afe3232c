//! Jobs: one training run of the evolution loop (a terminal's distillation, one
//! terminal/intermediate mutual-learning pair, the generator, or another run), as a jobs file
//! describes it, and the same job sized for planning (its memory in MB and its time in s).
//!
//! A jobs file is a JSON list of objects. Each has an `id` and either its description
//! (`models`: model description files, or `params`/`macs_per_frame`/`act_per_frame` given
//! directly; plus `frames`, `steps`, `batch`) for the memory model and the time predictor, or
//! its own `memory_mb` and `seconds`; optional `kind` (distill, mutual, generator, other;
//! default other), `alpha` (weight, default 1), `arrival_s` (default 0) and `terminal` (whose
//! evolution it serves, default its id). Unknown fields are refused.

use super::error::{Result, SchedError};
use nestevo_core::error::{Invalid, IoError};
use nestevo_model::{load_model, ModelDesc};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What a job trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    Distill,
    Mutual,
    Generator,
    Other,
}

impl JobKind {
    pub const ALL: [JobKind; 4] = [
        JobKind::Distill,
        JobKind::Mutual,
        JobKind::Generator,
        JobKind::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            JobKind::Distill => "distill",
            JobKind::Mutual => "mutual",
            JobKind::Generator => "generator",
            JobKind::Other => "other",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl std::str::FromStr for JobKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        JobKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                format!("unknown job kind `{s}`: allowed are distill, mutual, generator, other")
            })
    }
}

/// The size of a job's work: what the memory model and the time predictor read.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Work {
    /// Trainable parameters of all the job's models together.
    pub params: f64,
    /// Multiply-accumulates of one forward pass of one frame (all models together).
    pub macs_per_frame: f64,
    /// Activation elements of one forward pass of one frame (every layer's output and the input).
    pub act_per_frame: f64,
    /// Distinct training frames the job reads.
    pub frames: f64,
    pub steps: f64,
    pub batch: f64,
}

impl Work {
    /// The work of training `models` (description files) together.
    pub fn of_models(
        paths: &[impl AsRef<Path>],
        frames: f64,
        steps: f64,
        batch: f64,
    ) -> Result<Work> {
        let descs = paths
            .iter()
            .map(|p| load_model(p.as_ref()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let refs: Vec<&ModelDesc> = descs.iter().collect();
        Work::of_descs(&refs, frames, steps, batch)
    }

    /// The work of training the described models together.
    pub fn of_descs(descs: &[&ModelDesc], frames: f64, steps: f64, batch: f64) -> Result<Work> {
        let (mut params, mut macs, mut act) = (0.0, 0.0, 0.0);
        for d in descs {
            params += d.params()? as f64;
            macs += d.matrices()?.iter().map(|m| m.macs() as f64).sum::<f64>();
            let input: usize = d.input.iter().product();
            act += input as f64
                + d.shapes()?
                    .iter()
                    .map(|s| (s[0] * s[1] * s[2]) as f64)
                    .sum::<f64>();
        }
        Ok(Work {
            params,
            macs_per_frame: macs,
            act_per_frame: act,
            frames,
            steps,
            batch,
        })
    }
}

/// One job as a jobs file states it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    pub id: String,
    #[serde(default)]
    pub kind: Option<JobKind>,
    #[serde(default)]
    pub terminal: Option<String>,
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub params: Option<f64>,
    #[serde(default)]
    pub macs_per_frame: Option<f64>,
    #[serde(default)]
    pub act_per_frame: Option<f64>,
    #[serde(default)]
    pub frames: Option<f64>,
    #[serde(default)]
    pub steps: Option<f64>,
    #[serde(default)]
    pub batch: Option<f64>,
    #[serde(default)]
    pub memory_mb: Option<f64>,
    #[serde(default)]
    pub seconds: Option<f64>,
    #[serde(default)]
    pub alpha: Option<f64>,
    #[serde(default)]
    pub arrival_s: Option<f64>,
}

/// A job: its identity, its work (when described) and, once sized, its memory and time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub kind: JobKind,
    /// The terminal whose evolution this job serves (fair share and per-terminal latency).
    pub terminal: String,
    /// The model description files it trains (empty when described by numbers).
    #[serde(default)]
    pub models: Vec<String>,
    pub work: Option<Work>,
    /// Explicit memory (MB); otherwise the memory model's figure.
    pub memory_mb: Option<f64>,
    /// Explicit training time (s); otherwise the predictor's figure.
    pub seconds: Option<f64>,
    pub alpha: f64,
    pub arrival_s: f64,
}

/// A job ready to plan: memory (MB), predicted time (s), weight and arrival.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sized {
    pub id: String,
    pub kind: JobKind,
    pub terminal: String,
    pub memory_mb: f64,
    pub seconds: f64,
    pub alpha: f64,
    pub arrival_s: f64,
}

fn positive(file: &str, field: &str, v: f64, allowed: &str) -> Result<f64> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(Invalid::new(file, field, v, allowed).into())
    }
}

impl JobSpec {
    /// Validates and resolves this entry (entry `k` of `file`); model paths are read as given.
    pub fn resolve(&self, file: &str, k: usize) -> Result<Job> {
        let f = |name: &str| format!("[{k}].{name}");
        if self.id.trim().is_empty() {
            return Err(Invalid::new(file, f("id"), "\"\"", "a non-empty job id").into());
        }
        let f = |name: &str| format!("[{k}] (job `{}`).{name}", self.id);
        let memory_mb = self
            .memory_mb
            .map(|v| positive(file, &f("memory_mb"), v, "memory in MB must be above 0"))
            .transpose()?;
        let seconds = self
            .seconds
            .map(|v| positive(file, &f("seconds"), v, "training time in s must be above 0"))
            .transpose()?;
        let alpha = match self.alpha {
            Some(a) => positive(file, &f("alpha"), a, "a weight above 0")?,
            None => 1.0,
        };
        let arrival_s = match self.arrival_s {
            Some(a) if !(a.is_finite() && a >= 0.0) => {
                return Err(Invalid::new(
                    file,
                    f("arrival_s"),
                    a,
                    "an arrival time of 0 s or later",
                )
                .into())
            }
            Some(a) => a,
            None => 0.0,
        };
        let described = !self.models.is_empty() || self.params.is_some();
        let work = if described {
            let n = |name: &str, v: Option<f64>| -> Result<f64> {
                match v {
                    Some(v) => positive(file, &f(name), v, "a count above 0"),
                    None => Err(Invalid::new(
                        file,
                        f(name),
                        "",
                        "needed when a job is described by its models or parameters",
                    )
                    .into()),
                }
            };
            let (frames, steps, batch) = (
                n("frames", self.frames)?,
                n("steps", self.steps)?,
                n("batch", self.batch)?,
            );
            if !self.models.is_empty() {
                if self.params.is_some()
                    || self.macs_per_frame.is_some()
                    || self.act_per_frame.is_some()
                {
                    return Err(Invalid::new(file, f("params"), "", "give either `models` or `params`/`macs_per_frame`/`act_per_frame`, not both").into());
                }
                Some(
                    Work::of_models(&self.models, frames, steps, batch).map_err(|e| {
                        SchedError::Context {
                            context: format!("{file}: {}", f("models")),
                            inner: Box::new(e),
                        }
                    })?,
                )
            } else {
                Some(Work {
                    params: n("params", self.params)?,
                    macs_per_frame: n("macs_per_frame", self.macs_per_frame)?,
                    act_per_frame: n("act_per_frame", self.act_per_frame)?,
                    frames,
                    steps,
                    batch,
                })
            }
        } else {
            None
        };
        if work.is_none() && (memory_mb.is_none() || seconds.is_none()) {
            return Err(Invalid::new(
                file,
                f(if memory_mb.is_none() { "memory_mb" } else { "seconds" }),
                "",
                "a job needs either its description (`models` or `params`, with frames, steps, batch) or both `memory_mb` and `seconds`",
            )
            .into());
        }
        Ok(Job {
            id: self.id.clone(),
            kind: self.kind.unwrap_or(JobKind::Other),
            terminal: self.terminal.clone().unwrap_or_else(|| self.id.clone()),
            models: self.models.clone(),
            work,
            memory_mb,
            seconds,
            alpha,
            arrival_s,
        })
    }
}

/// Reads and validates a jobs file (a JSON list of job objects, ids unique).
pub fn load_jobs(path: &Path) -> Result<Vec<Job>> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| IoError::new(path, "read", e))?;
    parse_jobs(&text, &file)
}

/// Parses a jobs file's text; `file` names it in errors.
pub fn parse_jobs(text: &str, file: &str) -> Result<Vec<Job>> {
    let specs: Vec<JobSpec> = nestevo_core::config::from_json(
        text,
        file,
        "not a jobs file: expected a JSON list of job objects with `id` and either `memory_mb` \
         and `seconds` or a description",
    )?;
    if specs.is_empty() {
        return Err(Invalid::new(file, "", "", "the jobs file lists no job").into());
    }
    let mut seen = std::collections::HashSet::new();
    let mut jobs = Vec::with_capacity(specs.len());
    for (k, s) in specs.iter().enumerate() {
        let j = s.resolve(file, k)?;
        if !seen.insert(j.id.clone()) {
            return Err(
                Invalid::new(file, format!("[{k}].id"), &j.id, "job ids must be unique").into(),
            );
        }
        jobs.push(j);
    }
    Ok(jobs)
}
