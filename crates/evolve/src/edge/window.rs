//! What a window's strategy works on: the window's uploads with their labels from the current
//! global model, and what the strategy leaves for the scheduler's replay and the outcome
//! (stages of jobs, per-terminal losses, the generator's accuracy, whether the global model
//! changed).

use super::{seed_of, Edge, PairReport, TerminalUpload};
use crate::config::Experiment;
use crate::distill::DistillConfig;
use crate::error::{EvolveError, Result};
use crate::schedule::{Stage, StageJob};
use nestevo_couple::label::Labelled;
use nestevo_model::ModelDesc;
use nestevo_sched::{JobKind, MemoryModel, Work};

/// One action of a window (what `method::Action` names), carried out on the edge.
pub(super) trait Strategy {
    fn run(&self, edge: &mut Edge, win: &mut Window<'_>) -> Result<()>;
}

pub(super) struct Window<'a> {
    pub w: usize,
    pub e: &'a Experiment,
    pub uploads: &'a [TerminalUpload],
    /// Each upload's terminal (index into the edge's terminals).
    pub ks: Vec<usize>,
    /// Each upload labelled by the current global model (a strategy may take them).
    pub labels: Vec<Vec<Labelled>>,
    pub mem: MemoryModel,
    pub stages: Vec<Stage>,
    /// Each upload's (first, last) training loss.
    pub losses: Vec<(f64, f64)>,
    pub generator_accuracy: Vec<f64>,
    /// The generator's loss over its first and last tenth of steps and its samples' mean norm.
    pub generator_loss: Option<(f64, f64)>,
    pub generator_latent_norm: Option<f64>,
    /// Each upload's pair report (the generator's terms in it), when one trained.
    pub pairs: Vec<Option<PairReport>>,
    pub global_updated: bool,
    /// Each upload's intermediate: its distance from the global model at the window's start
    /// and after its local phase (`coevolve::relative_distance`), when one trained.
    pub mid_distance: Vec<Option<(f64, f64)>>,
    /// Each upload's intermediate after its local phase on the other uploads' frames: mAP@0.5
    /// against their ground truth, averaged over the other uploads that carry any.
    pub mid_map50_others: Vec<Option<f64>>,
}

impl Window<'_> {
    /// A job of the replay, its memory from the memory model.
    pub fn job(
        &self,
        id: String,
        kind: JobKind,
        terminal: Option<&str>,
        work: Work,
        seconds: f64,
    ) -> StageJob {
        StageJob {
            id,
            kind,
            terminal: terminal.map(str::to_string),
            memory_mb: self.mem.estimate(&work).total_mb,
            seconds,
        }
    }

    /// The work of training `descs` on `frames` frames.
    pub fn work_of(
        &self,
        descs: &[&ModelDesc],
        frames: usize,
        steps: usize,
        batch: usize,
    ) -> Result<Work> {
        Work::of_descs(descs, frames as f64, steps as f64, batch as f64)
            .map_err(|x| EvolveError::BadInput(format!("window {}: memory model: {x}", self.w)))
    }

    /// Upload `j`'s distillation, seeded for (window, terminal, `what`).
    pub fn distill_cfg(&self, j: usize, what: u64) -> DistillConfig {
        let e = self.e;
        DistillConfig {
            steps: e.distill.steps,
            batch: e.distill.batch,
            lr: e.distill.lr,
            peak_thresholds: e.pseudo_thresholds(),
            soft: e.distill.soft,
            augment: e.distill.augment,
            seed: seed_of(e.seed, self.w, self.ks[j], what),
            context: format!("window {}, terminal {}", self.w, self.uploads[j].terminal),
        }
    }
}
