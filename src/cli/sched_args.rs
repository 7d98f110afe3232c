//! The flags every `nestevo sched` command shares: the predictor and memory model, and the
//! jobs file sized with them.

use clap::Args;
use nestevo_sched::predict::{Baseline, Mlp, TimeModel};
use nestevo_sched::{load_jobs, size, MemoryModel};
use std::path::{Path, PathBuf};

/// The predictor every command loads unless told otherwise.
pub const DEFAULT_PREDICTOR: &str = "models/sched/predictor.json";

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
    /// The predictor file the models come from: `--predictor`, else the default where it exists.
    pub fn predictor_file(&self) -> Option<PathBuf> {
        self.predictor
            .clone()
            .or_else(|| Some(PathBuf::from(DEFAULT_PREDICTOR)).filter(|p| p.exists()))
    }

    /// What sized the jobs, for a report: the predictor file (its memory model for every job,
    /// its time model for the jobs without `seconds`), or the defaults.
    pub fn describe(&self) -> String {
        let ws = self
            .workspace_mb
            .map(|w| format!(", workspace {w} MB per job"))
            .unwrap_or_default();
        match self.predictor_file() {
            Some(p) => format!(
                "sized by {} ({} for jobs without `seconds`{ws})",
                p.display(),
                if self.baseline {
                    "MACs baseline"
                } else {
                    "MLP"
                }
            ),
            None => format!("sized by the default memory model{ws} and each job's `seconds`"),
        }
    }

    /// The memory and time models; `None` time model when no predictor file is found.
    pub fn load(&self) -> anyhow::Result<(MemoryModel, Option<TimeModel>)> {
        let path = self.predictor_file();
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
