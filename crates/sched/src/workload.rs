//! Sizing jobs (memory model and time predictor) and the synthetic evolution workloads of the
//! figures: terminals running the shipped detectors (terminal, M1, M2, M3), each asking for
//! evolutions over time.
//!
//! An evolution of terminal i is one job: with probability `p_coevolve` a mutual-learning pair
//! (the terminal's model and a global-architecture intermediate trained together), otherwise
//! the terminal's distillation. Its uploaded frames F are uniform in [16, 128] (Eq. 5 sets
//! them from the drift), its batch one of 4, 8, 16, its steps `ceil(epochs * F / batch)` with
//! 2 to 6 epochs. Evolution e of terminal i arrives at `e * window_s + U(0, jitter_s)`.

use super::error::Result;
use super::job::{Job, JobKind, Sized, Work};
use super::memory::MemoryModel;
use super::predict::TimeModel;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// Memory and predicted time of every job (explicit figures win over the models).
pub fn size(jobs: &[Job], mem: &MemoryModel, time: &TimeModel) -> Vec<Sized> {
    jobs.iter()
        .map(|j| Sized {
            id: j.id.clone(),
            kind: j.kind,
            terminal: j.terminal.clone(),
            memory_mb: j.memory_mb.unwrap_or_else(|| {
                mem.estimate_kind(j.kind, j.work.as_ref().expect("validated"))
                    .total_mb
            }),
            seconds: j
                .seconds
                .unwrap_or_else(|| time.predict(j.kind, j.work.as_ref().expect("validated"))),
            alpha: j.alpha,
            arrival_s: j.arrival_s,
        })
        .collect()
}

/// The scenario's knobs.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    pub terminals: usize,
    pub evolutions: usize,
    pub window_s: f64,
    pub jitter_s: f64,
    pub p_coevolve: f64,
    /// Multiplies every job's steps (a shorter workload for real runs).
    pub step_scale: f64,
    pub seed: u64,
}

/// Per-frame work (params, MACs, activations) of the shipped models, read once.
pub struct Models {
    terminals: Vec<(String, Work, String)>,
    global: (Work, String),
}

impl Models {
    /// Reads `dir`/{terminal,M1,M2,M3,global}.toml (models/pretrained/).
    pub fn load(dir: &Path) -> Result<Models> {
        let path = |n: &str| dir.join(format!("{n}.toml"));
        let one = |n: &str| Work::of_models(&[path(n)], 1.0, 1.0, 1.0);
        let mut terminals = Vec::new();
        for n in ["terminal", "M1", "M2", "M3"] {
            terminals.push((n.to_string(), one(n)?, path(n).display().to_string()));
        }
        Ok(Models {
            terminals,
            global: (one("global")?, path("global").display().to_string()),
        })
    }
}

/// The jobs of a scenario (unsized: described by their work).
pub fn evolutions(models: &Models, s: &Scenario) -> Vec<Job> {
    let mut rng = ChaCha8Rng::seed_from_u64(s.seed);
    let mut jobs = Vec::with_capacity(s.terminals * s.evolutions);
    for i in 0..s.terminals {
        let (mname, m, mpath) = &models.terminals[i % models.terminals.len()];
        for e in 0..s.evolutions {
            let frames = rng.gen_range(16..=128) as f64;
            let batch = [4.0, 8.0, 16.0][rng.gen_range(0..3)];
            let epochs = rng.gen_range(2..=6) as f64;
            let steps = (epochs * frames / batch * s.step_scale).ceil().max(1.0);
            let mutual = rng.gen_bool(s.p_coevolve);
            let (kind, base, paths) = if mutual {
                let (g, gpath) = &models.global;
                (
                    JobKind::Mutual,
                    Work {
                        params: m.params + g.params,
                        macs_per_frame: m.macs_per_frame + g.macs_per_frame,
                        act_per_frame: m.act_per_frame + g.act_per_frame,
                        ..*m
                    },
                    vec![mpath.clone(), gpath.clone()],
                )
            } else {
                (JobKind::Distill, *m, vec![mpath.clone()])
            };
            let arrival_s = e as f64 * s.window_s + rng.gen_range(0.0..=s.jitter_s.max(0.0));
            jobs.push(Job {
                id: format!("t{i}-e{e}-{}", kind.name()),
                kind,
                terminal: format!("t{i}-{mname}"),
                models: paths,
                work: Some(Work {
                    frames,
                    steps,
                    batch,
                    ..base
                }),
                memory_mb: None,
                seconds: None,
                alpha: 1.0,
                arrival_s,
            });
        }
    }
    jobs
}

/// `jobs` as a jobs file (the form `load_jobs` reads: described by their models).
pub fn jobs_file(jobs: &[Job]) -> String {
    let specs: Vec<serde_json::Value> = jobs
        .iter()
        .map(|j| {
            let w = j.work.expect("described");
            serde_json::json!({"id": j.id, "kind": j.kind, "terminal": j.terminal,
                "models": j.models, "frames": w.frames, "steps": w.steps, "batch": w.batch,
                "alpha": j.alpha, "arrival_s": j.arrival_s})
        })
        .collect();
    serde_json::to_string_pretty(&specs).expect("plain values")
}
