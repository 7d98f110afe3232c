//! The real evolver: `evolve::edge::Edge` behind the worker's `Evolver` trait. The served Edge
//! starts with no terminals (they arrive by registration, in registration order, which fixes
//! each terminal's slot in the run's seeds as the experiment's order does in-process), holds
//! the experiment's global model and drift statistics, and runs the experiment's method.

use super::error::{Result, ServeError};
use super::worker::{Evolved, Evolver, Upload, WindowResult};
use nestevo_data::Frame;
use nestevo_evolve::coevolve::copy_model;
use nestevo_evolve::config::Experiment;
use nestevo_evolve::drift::Decision;
use nestevo_evolve::edge::{Edge, TerminalUpload};
use nestevo_evolve::method::{Action, Method};
use nestevo_train::checkpoint::{self, TrainState};
use std::path::{Path, PathBuf};

pub struct EdgeEvolver {
    edge: Edge,
}

impl EdgeEvolver {
    /// The Edge for experiment `exp` (its terminals left out: they register), on `device`, its
    /// computed drift statistics cached in `work`.
    pub fn new(exp: &Experiment, method: &str, device: tch::Device, work: &Path) -> Result<Self> {
        let method: Method = method
            .parse()
            .map_err(|e: String| ServeError::Config(format!("field `method`: {e}")))?;
        let mut e = exp.clone();
        e.terminals.clear();
        Ok(EdgeEvolver {
            edge: Edge::new(&e, method, device, work)?,
        })
    }
}

fn decision_name(d: Decision) -> &'static str {
    match d {
        Decision::DistillOnly => "distill-only",
        Decision::CoEvolve => "co-evolve",
    }
}

impl Evolver for EdgeEvolver {
    fn add_terminal(&mut self, id: &str, stream: &str, model: &Path) -> Result<()> {
        Ok(self.edge.add_terminal(id, stream, model)?)
    }

    fn restore_terminal(&mut self, id: &str, model: &Path, delta: Option<f64>) -> Result<()> {
        self.edge.set_terminal_model(id, model)?;
        Ok(self.edge.set_terminal_delta(id, delta)?)
    }

    fn restore_global(&mut self, path: &Path, version: usize) -> Result<()> {
        Ok(self.edge.set_global(path, version)?)
    }

    fn upload_plan(&self) -> Vec<(String, usize)> {
        self.edge.upload_plan()
    }

    fn window(&mut self, w: usize, uploads: Vec<Upload>) -> Result<WindowResult> {
        let ups = uploads
            .into_iter()
            .map(|u| TerminalUpload {
                terminal: u.terminal,
                frames: u.frames,
            })
            .collect();
        let o = self.edge.window(w, ups)?;
        let changed = o.action != Action::None;
        Ok(WindowResult {
            decision: decision_name(o.decision).to_string(),
            terminals: o
                .terminals
                .into_iter()
                .map(|t| Evolved {
                    terminal: t.terminal,
                    action: t.action,
                    delta: t.delta,
                    changed,
                })
                .collect(),
            global_updated: o.global_updated,
        })
    }

    fn save_terminal(&self, id: &str, dir: &Path) -> Result<PathBuf> {
        let m = self.edge.terminal_model(id)?;
        Ok(checkpoint::save(m, dir, &TrainState::default())?)
    }

    fn save_global(&self, dir: &Path) -> Result<(PathBuf, usize)> {
        let p = checkpoint::save(self.edge.global(), dir, &TrainState::default())?;
        Ok((p, self.edge.global_version))
    }

    fn save_intermediates(&self, dir: &Path) -> Result<()> {
        for t in self.edge.terminals() {
            if let Some(m) = self.edge.intermediate(&t.id)? {
                let m = copy_model(m, &format!("mid-{}", t.id))?;
                checkpoint::save(&m, dir, &TrainState::default())?;
            }
        }
        Ok(())
    }

    fn restore_intermediate(&mut self, id: &str, model: &Path) -> Result<()> {
        Ok(self.edge.set_intermediate(id, model)?)
    }

    fn memory_frames(&self) -> usize {
        self.edge.experiment().distill.memory
    }

    fn remember(&mut self, id: &str, frames: Vec<Frame>) -> Result<()> {
        Ok(self.edge.remember(id, &frames)?)
    }
}
