//! The edge server's side of the loop, with no transport and no clock of its own: it holds
//! the global model, its training-data drift statistics and every terminal's deployed model;
//! given a window's uploads it labels them, measures the drift, decides (Eq. 11-13) and runs
//! the window's jobs as the method says (`method`). Each action is a `Strategy` in its own
//! file here: `teach` (distillation), `coevolve` (Algorithm 2), `adapt` (A1) and `keep`
//! (nothing); a new action adds a file and one arm of `strategy`. The in-process loop (`run`)
//! and the HTTP service (`serve`) both drive it.
//!
//! Uploads (Eq. 5): `upload_counts` gives every terminal `min_upload` frames plus a share of
//! the rest of `D_max` in proportion to its last delta_i (more frames where the drift was
//! larger), rounded down so the sum stays within D_max; an even split while some terminal
//! has no delta yet.
//!
//! Times: the window's jobs run for real one after another (labelling of every upload first,
//! then, for co-evolution, the generator, the mutual-learning pairs, FedAvg with the relabelling
//! by the new global model, and the distillations), so runs stay seeded and reproducible. Each
//! job's measured solo time and its modelled memory (`sched::MemoryModel` on its models'
//! descriptions, `[sched].workspace_mb`) are recorded, and the window is replayed on the
//! experiment's `[sched]` device and policy (`schedule`): stage by stage, each stage's jobs
//! given to `sched::simulate` arriving at the previous stage's end. A terminal's `t_r` and `t_w`
//! are `sched::terminal_times` of its own jobs (pair, distillation) with its request at the
//! window's start: `t_r` the time they ran, `t_w` the rest until its last job ended. The
//! labelling time is the labeller's modelled device time where it reports one (the simulated
//! chip), else the measured wall time. The replay is `WindowOutcome::schedule`.
//!
//! With `[compress]` on, the distillations and the pairs train on the upload after the
//! adaptive-compression rule (`compress`); their modelled memory counts pooled frames at a
//! quarter of a whole frame's activations.

mod adapt;
mod coevolve;
mod keep;
mod teach;
mod window;

use super::cim_labeller::labeller_factory;
pub use super::cim_labeller::{torch_labeller, LabellerFactory};
use super::coevolve::{copy_model, PairReport};
use super::compress;
use super::config::Experiment;
use super::distill::{distill, DistillConfig};
use super::drift::{self, Decision, FeatureStats};
use super::error::{EvolveError, Result};
use super::labeller::{feature_stats, TorchLabeller};
use super::method::{Action, Method};
use super::schedule::{schedule, Stage, StageJob, WindowSchedule};
pub use super::uploads::upload_counts;
use nestevo_couple::label::{LabelRequest, Labelled, Labeller, PseudoBox};
use nestevo_data::{Frame, StreamId, CLASSES};
use nestevo_sched::{JobKind, MemoryModel, Work};
use nestevo_train::checkpoint;
use nestevo_train::detector::Detector;
use nestevo_train::frames::FramePool;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;
use window::{Strategy, Window};

/// Source frames labelled for the training statistics when none lie beside the checkpoint.
const TRAIN_STATS_FRAMES: usize = 512;
/// Labelled source frames A1 adapts from.
const ADAPT_SOURCE_FRAMES: usize = 256;

pub struct Terminal {
    pub id: String,
    pub stream: String,
    pub model: Detector,
    /// delta_i of the terminal's last upload.
    pub last_delta: Option<f64>,
}

/// A terminal's frames of one window.
pub struct TerminalUpload {
    pub terminal: String,
    pub frames: Vec<Frame>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TerminalOutcome {
    pub terminal: String,
    pub uploaded: usize,
    pub pseudo_boxes: usize,
    pub delta: f64,
    pub action: String,
    /// Seconds: waiting for other jobs, and the terminal's own training.
    pub t_w: f64,
    pub t_r: f64,
    /// Seconds of labelling its frames (modelled by the labeller, or measured).
    pub label_s: f64,
    /// First and last losses of its jobs, for the record.
    pub first_loss: f64,
    pub last_loss: f64,
    /// The pseudo boxes of its upload against the frames' ground truth (IoU >= 0.5, same
    /// class): a diagnostic, never an input to training; absent where the frames carry none.
    #[serde(default)]
    pub pseudo_precision: Option<f64>,
    #[serde(default)]
    pub pseudo_recall: Option<f64>,
    /// Its intermediate's relative distance from the global model at the window's start (0
    /// for a fresh copy) and after its local phase; absent where none trained.
    #[serde(default)]
    pub mid_distance_start: Option<f64>,
    #[serde(default)]
    pub mid_distance: Option<f64>,
    /// Its intermediate after its local phase on the other terminals' uploads (mAP@0.5 against
    /// their ground truth, mean over them): how far the intermediates have specialised.
    #[serde(default)]
    pub mid_map50_others: Option<f64>,
    /// Its pair's generated-sample cross-entropy (first and last tenth of the steps); absent
    /// where no generator took part.
    #[serde(default)]
    pub sample_ce: Option<(f64, f64)>,
    /// Its pair's feature-level term, the same way; absent without the term.
    #[serde(default)]
    pub feature_term: Option<(f64, f64)>,
    /// Its intermediate's latent norm at pseudo-box centres in the pair (`PairReport`).
    #[serde(default)]
    pub mid_latent_norm: Option<f64>,
    /// Its terminal's projected-sample cross-entropy and the projection's R^2 (`PairReport`).
    #[serde(default)]
    pub terminal_ce: Option<(f64, f64)>,
    #[serde(default)]
    pub projection_r2: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowOutcome {
    pub window: usize,
    pub delta_global: usize,
    pub decision: Decision,
    pub action: Action,
    pub terminals: Vec<TerminalOutcome>,
    pub global_updated: bool,
    /// The generator's accuracy per intermediate head, when one was trained.
    pub generator_accuracy: Vec<f64>,
    /// Its loss over the first and the last tenth of its steps.
    #[serde(default)]
    pub generator_loss: Option<(f64, f64)>,
    /// Its samples' mean L2 norm (with `generator.match_norm`, the norm they were held to).
    #[serde(default)]
    pub generator_latent_norm: Option<f64>,
    /// Wall seconds of the whole window on the edge.
    pub seconds: f64,
    /// The window's jobs replayed on the `[sched]` device (`schedule`): where t_w, t_r come from.
    #[serde(default)]
    pub schedule: Option<WindowSchedule>,
}

pub struct Edge {
    exp: Experiment,
    method: Method,
    global: Detector,
    original: Detector,
    train_stats: FeatureStats,
    terminals: Vec<Terminal>,
    factory: LabellerFactory,
    labeller: Box<dyn Labeller + Send>,
    /// Times the global model has been replaced (co-evolutions).
    pub global_version: usize,
    /// Modelled energy of (re)programming the labeller's chip so far (0 on LibTorch).
    pub program_energy_j: f64,
    /// Modelled energy of the labeller's inference so far (0 on LibTorch: not modelled).
    pub label_energy_j: f64,
    source: Option<Vec<Frame>>,
    /// Each terminal's intermediate model, kept across windows when `mutual.persist` is on.
    mids: Vec<Option<Detector>>,
    /// Each terminal's earlier uploaded frames, most recent last (`distill.memory`).
    memory: Vec<Vec<Frame>>,
}

fn load_model(path: &Path, device: tch::Device) -> Result<Detector> {
    Ok(checkpoint::load(path, device)?.0)
}

/// A seed for (run seed, window, terminal, purpose), so that a resumed run draws the same.
pub fn seed_of(seed: u64, window: usize, terminal: usize, what: u64) -> u64 {
    seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ ((window as u64) << 40)
        ^ ((terminal as u64) << 24)
        ^ what
}

impl Edge {
    /// The global model of `exp`, its drift statistics (beside its checkpoint, or computed
    /// into `work`), and the experiment's terminals with their deployed models.
    /// The labeller is the experiment's `[labeller]` (LibTorch, or the simulated chip).
    pub fn new(exp: &Experiment, method: Method, device: tch::Device, work: &Path) -> Result<Edge> {
        let factory = labeller_factory(&exp.labeller);
        Self::with_labeller(exp, method, device, work, factory)
    }

    pub fn with_labeller(
        exp: &Experiment,
        method: Method,
        device: tch::Device,
        work: &Path,
        factory: LabellerFactory,
    ) -> Result<Edge> {
        let global = load_model(Path::new(&exp.global.model), device)?;
        let train_stats = training_stats(&global, exp, work)?;
        let labeller = factory(&global, 0)?;
        let mut edge = Edge {
            exp: exp.clone(),
            method,
            original: copy_model(&global, &global.desc.name)?,
            global,
            train_stats,
            terminals: Vec::new(),
            factory,
            labeller,
            global_version: 0,
            program_energy_j: 0.0,
            label_energy_j: 0.0,
            source: None,
            mids: Vec::new(),
            memory: Vec::new(),
        };
        for t in &exp.terminals {
            edge.add_terminal(&t.id, &t.stream, Path::new(&t.model))?;
        }
        Ok(edge)
    }

    pub fn experiment(&self) -> &Experiment {
        &self.exp
    }

    pub fn method(&self) -> Method {
        self.method
    }

    /// Registers a terminal with its deployed model (renamed after the terminal, so that its
    /// checkpoints are).
    pub fn add_terminal(&mut self, id: &str, stream: &str, model: &Path) -> Result<()> {
        if self.terminals.iter().any(|t| t.id == id) {
            return Err(EvolveError::BadInput(format!(
                "terminal `{id}` is already registered"
            )));
        }
        let mut m = load_model(model, self.global.vs.device())?;
        m.desc.name = id.to_string();
        self.terminals.push(Terminal {
            id: id.to_string(),
            stream: stream.to_string(),
            model: m,
            last_delta: None,
        });
        self.mids.push(None);
        self.memory.push(Vec::new());
        Ok(())
    }

    /// Terminal `id`'s intermediate model, when one is kept (`mutual.persist`).
    pub fn intermediate(&self, id: &str) -> Result<Option<&Detector>> {
        Ok(self.mids[self.index(id)?].as_ref())
    }

    /// Restores terminal `id`'s intermediate from a checkpoint (a resumed run).
    pub fn set_intermediate(&mut self, id: &str, model: &Path) -> Result<()> {
        let k = self.index(id)?;
        let mut m = load_model(model, self.global.vs.device())?;
        m.desc.name = format!("{}-mid-{id}", self.original.desc.name);
        self.mids[k] = Some(m);
        Ok(())
    }

    /// Adds an upload of terminal `id` to its memory, keeping the most recent
    /// `distill.memory` frames (a resumed run replays its earlier uploads through this).
    pub fn remember(&mut self, id: &str, frames: &[Frame]) -> Result<()> {
        let k = self.index(id)?;
        let cap = self.exp.distill.memory;
        let mem = &mut self.memory[k];
        mem.extend(frames.iter().cloned());
        if mem.len() > cap {
            mem.drain(..mem.len() - cap);
        }
        Ok(())
    }

    fn index(&self, id: &str) -> Result<usize> {
        self.terminals
            .iter()
            .position(|t| t.id == id)
            .ok_or_else(|| {
                let ids: Vec<&str> = self.terminals.iter().map(|t| t.id.as_str()).collect();
                EvolveError::BadInput(format!(
                    "no terminal `{id}`; registered: {}",
                    ids.join(", ")
                ))
            })
    }

    pub fn terminals(&self) -> &[Terminal] {
        &self.terminals
    }

    pub fn terminal_model(&self, id: &str) -> Result<&Detector> {
        Ok(&self.terminals[self.index(id)?].model)
    }

    /// Replaces a terminal's model by a checkpoint (a restarted service, a resumed run).
    pub fn set_terminal_model(&mut self, id: &str, model: &Path) -> Result<()> {
        let k = self.index(id)?;
        let mut m = load_model(model, self.global.vs.device())?;
        m.desc.name = id.to_string();
        self.terminals[k].model = m;
        Ok(())
    }

    pub fn set_terminal_delta(&mut self, id: &str, delta: Option<f64>) -> Result<()> {
        let k = self.index(id)?;
        self.terminals[k].last_delta = delta;
        Ok(())
    }

    pub fn global(&self) -> &Detector {
        &self.global
    }

    /// The global model before any co-evolution.
    pub fn original_global(&self) -> &Detector {
        &self.original
    }

    /// Replaces the global model by a checkpoint (restart), `version` co-evolutions old.
    pub fn set_global(&mut self, path: &Path, version: usize) -> Result<()> {
        let mut g = load_model(path, self.global.vs.device())?;
        g.desc.name = self.original.desc.name.clone();
        self.labeller = (self.factory)(&g, version)?;
        self.global = g;
        self.global_version = version;
        Ok(())
    }

    pub fn labeller(&self) -> &dyn Labeller {
        self.labeller.as_ref()
    }

    /// Frames each terminal uploads next window (Eq. 5).
    pub fn upload_plan(&self) -> Vec<(String, usize)> {
        let deltas: Vec<Option<f64>> = self.terminals.iter().map(|t| t.last_delta).collect();
        let counts = upload_counts(self.exp.windows.d_max, self.exp.windows.min_upload, &deltas);
        self.terminals
            .iter()
            .zip(counts)
            .map(|(t, n)| (t.id.clone(), n))
            .collect()
    }

    /// The labellers' floor: the lowest pseudo-box threshold (`per_class` then holds each
    /// box to its class's).
    fn floor(&self) -> f32 {
        self.exp.pseudo_thresholds().into_iter().fold(1.0, f64::min) as f32
    }

    /// `lab`'s labels with each box held to its class's threshold (`per_class`).
    fn pseudo(
        &self,
        lab: &dyn Labeller,
        frames: &[Frame],
        req: &LabelRequest,
    ) -> Result<Vec<Labelled>> {
        let mut l = lab.label(frames, req)?;
        per_class(&mut l, &self.exp.pseudo_thresholds());
        Ok(l)
    }

    fn label(&mut self, frames: &[Frame], features: bool) -> Result<(Vec<Labelled>, f64)> {
        let req = LabelRequest {
            min_score: self.floor(),
            feature_layer: features.then(|| self.exp.drift.layer.clone()),
        };
        let t0 = Instant::now();
        let labels = self.pseudo(self.labeller.as_ref(), frames, &req)?;
        // The simulated chip's modelled time replaces the wall time of simulating it.
        let cost = self.labeller.last_cost();
        self.label_energy_j += cost.map_or(0.0, |c| c.energy_j);
        Ok((
            labels,
            cost.map_or(t0.elapsed().as_secs_f64(), |c| c.seconds),
        ))
    }

    /// Training labels of `frames` (one terminal's) from the current global model, or the
    /// original one: with `global.adapt_bn`, from a copy whose batch-norm statistics are
    /// re-estimated on these frames, built by the labeller factory (so a chip is programmed
    /// with it); else from the labeller as it is.
    fn label_training(&mut self, frames: &[Frame], original: bool) -> Result<(Vec<Labelled>, f64)> {
        let req = LabelRequest {
            min_score: self.floor(),
            feature_layer: None,
        };
        if !self.exp.global.adapt_bn {
            if !original {
                return self.label(frames, false);
            }
            let t0 = Instant::now();
            let l = self.pseudo(&TorchLabeller::new(&self.original), frames, &req)?;
            return Ok((l, t0.elapsed().as_secs_f64()));
        }
        let t0 = Instant::now();
        let src = if original {
            &self.original
        } else {
            &self.global
        };
        let m = copy_model(src, &src.desc.name)?;
        reestimate_bn_on(&m, frames.iter())?;
        let lab = (self.factory)(&m, self.global_version)?;
        let mut seconds = 0.0;
        if let Some(c) = lab.program_cost() {
            seconds += c.seconds;
            self.program_energy_j += c.energy_j;
        }
        let t1 = Instant::now();
        let labels = self.pseudo(lab.as_ref(), frames, &req)?;
        let cost = lab.last_cost();
        self.label_energy_j += cost.map_or(0.0, |c| c.energy_j);
        seconds += cost.map_or(t1.elapsed().as_secs_f64(), |c| c.seconds);
        // On LibTorch the copy and the statistics are part of the labelling's wall time.
        if cost.is_none() {
            seconds = t0.elapsed().as_secs_f64();
        }
        Ok((labels, seconds))
    }

    /// One window: see the module doc. Terminals without an upload are left as they are.
    /// The labelled source-domain frames (the global model's training data) that A1 adapts
    /// from and rehearsal replays: drawn once, seeded by the run.
    fn draw_source(&mut self) {
        if self.source.is_none() {
            self.source = Some(source_frames(&self.exp));
        }
    }

    pub fn window(&mut self, w: usize, uploads: Vec<TerminalUpload>) -> Result<WindowOutcome> {
        let t0 = Instant::now();
        let e = self.exp.clone();
        let mut ks = Vec::new();
        for u in &uploads {
            let k = self.index(&u.terminal)?;
            if ks.contains(&k) {
                return Err(EvolveError::BadInput(format!(
                    "window {w}: two uploads for terminal `{}`",
                    u.terminal
                )));
            }
            if u.frames.is_empty() {
                return Err(EvolveError::BadInput(format!(
                    "window {w}: terminal `{}` uploaded no frames",
                    u.terminal
                )));
            }
            ks.push(k);
        }
        // Label every upload with the current global model, then the drift rule.
        let mut labels: Vec<Vec<Labelled>> = Vec::new();
        let mut deltas = Vec::new();
        let mut label_s = Vec::new();
        let mut boxes = Vec::new();
        for u in &uploads {
            let (l, s) = self.label(&u.frames, true)?;
            boxes.push(l.iter().map(|x| x.boxes.len()).sum::<usize>());
            let stats = feature_stats(&l, CLASSES.len())?;
            deltas.push(drift::delta(&self.train_stats, &stats)?.delta);
            labels.push(l);
            label_s.push(s);
        }
        for (&k, &d) in ks.iter().zip(&deltas) {
            self.terminals[k].last_delta = Some(d);
        }
        // The terminals' memories join their uploads as training data, labelled by the
        // current global model like the uploads (the drift rule saw the uploads alone); with
        // `global.adapt_bn` all of a terminal's training frames are labelled anew with the
        // statistics of its frames.
        let mut train = Vec::with_capacity(uploads.len());
        for (j, u) in uploads.iter().enumerate() {
            let mem = self.memory[ks[j]].clone();
            let mut frames = u.frames.clone();
            if e.global.adapt_bn {
                frames.extend(mem);
                let (l, s) = self.label_training(&frames, false)?;
                label_s[j] += s;
                labels[j] = l;
            } else if !mem.is_empty() {
                let (l, s) = self.label(&mem, false)?;
                label_s[j] += s;
                labels[j].extend(l);
                frames.extend(mem);
            }
            train.push(TerminalUpload {
                terminal: u.terminal.clone(),
                frames,
            });
        }
        // What the terminals are taught (the upload's part of it), against ground truth.
        let quality: Vec<Option<(f64, f64)>> = uploads
            .iter()
            .zip(&labels)
            .map(|(u, l)| pseudo_quality(&u.frames, &l[..u.frames.len()]))
            .collect();
        let dg = drift::delta_global(&deltas, e.drift.gamma);
        let decision = drift::decide(dg, e.drift.epsilon);
        let action = self.method.action(decision);
        let n = uploads.len();
        let mut win = Window {
            w,
            e: &e,
            uploads: &train,
            ks,
            labels,
            mem: MemoryModel {
                workspace_mb: e.sched.workspace_mb,
                ..Default::default()
            },
            // The window's stages for the scheduler (`schedule`): labelling holds the device
            // first.
            stages: vec![Stage::Serial {
                name: "label".into(),
                seconds: label_s.iter().sum(),
            }],
            // No training: no loss (0, so that the JSON tables stay numbers).
            losses: vec![(0.0, 0.0); n],
            generator_accuracy: Vec::new(),
            generator_loss: None,
            generator_latent_norm: None,
            pairs: vec![None; n],
            global_updated: false,
            mid_distance: vec![None; n],
            mid_map50_others: vec![None; n],
        };
        strategy(action).run(self, &mut win)?;
        let Window {
            stages,
            losses,
            generator_accuracy: gen_acc,
            generator_loss,
            generator_latent_norm,
            pairs,
            global_updated,
            mid_distance,
            mid_map50_others,
            ..
        } = win;
        let sched = schedule(&stages, &e.sched, seed_of(e.seed, w, 0, 7))
            .map_err(|x| EvolveError::BadInput(format!("window {w}: {x}")))?;
        let terminals = (0..n)
            .map(|j| TerminalOutcome {
                terminal: uploads[j].terminal.clone(),
                uploaded: uploads[j].frames.len(),
                pseudo_boxes: boxes[j],
                delta: deltas[j],
                action: action.name().to_string(),
                t_w: sched.terminal_times(&uploads[j].terminal).0,
                t_r: sched.terminal_times(&uploads[j].terminal).1,
                label_s: label_s[j],
                first_loss: losses[j].0,
                last_loss: losses[j].1,
                mid_distance_start: mid_distance[j].map(|d| d.0),
                mid_distance: mid_distance[j].map(|d| d.1),
                mid_map50_others: mid_map50_others[j],
                sample_ce: pairs[j].as_ref().and_then(|p| p.sample_ce),
                feature_term: pairs[j].as_ref().and_then(|p| p.feature),
                mid_latent_norm: pairs[j].as_ref().and_then(|p| p.latent_norm),
                terminal_ce: pairs[j].as_ref().and_then(|p| p.terminal_ce),
                projection_r2: pairs[j].as_ref().and_then(|p| p.projection_r2),
                pseudo_precision: quality[j].map(|q| q.0),
                pseudo_recall: quality[j].map(|q| q.1),
            })
            .collect::<Vec<_>>();
        if e.distill.memory > 0 {
            for u in &uploads {
                self.remember(&u.terminal, &u.frames)?;
            }
        }
        Ok(WindowOutcome {
            window: w,
            delta_global: dg,
            decision,
            action,
            terminals,
            global_updated,
            generator_accuracy: gen_acc,
            generator_loss,
            generator_latent_norm,
            seconds: t0.elapsed().as_secs_f64(),
            schedule: Some(sched),
        })
    }
}

/// Frames batch-norm statistics are re-estimated on, at most (one forward pass).
const BN_FRAMES: usize = 256;

/// The labelled source frames the edge replays and adapts from (drawn once per run, from the
/// experiment's seed).
pub fn source_frames(e: &Experiment) -> Vec<Frame> {
    FramePool::new(StreamId::Source, e.seed ^ 0xA1).sample(ADAPT_SOURCE_FRAMES)
}

/// Re-estimates `m`'s batch-norm statistics (`Detector::reestimate_bn`) on `frames` of its
/// input size, evenly thinned to at most `BN_FRAMES`; nothing when none fits.
pub fn reestimate_bn_on<'a>(m: &Detector, frames: impl Iterator<Item = &'a Frame>) -> Result<()> {
    let [_, h, w] = m.desc.input;
    let mut picks: Vec<&Frame> = frames.filter(|f| f.height == h && f.width == w).collect();
    if picks.len() > BN_FRAMES {
        let step = picks.len() as f64 / BN_FRAMES as f64;
        picks = (0..BN_FRAMES)
            .map(|i| picks[(i as f64 * step) as usize])
            .collect();
    }
    if picks.is_empty() {
        return Ok(());
    }
    let rgb: Vec<&[u8]> = picks.iter().map(|f| f.rgb.as_slice()).collect();
    m.reestimate_bn(&m.batch_from_rgb(&rgb))?;
    Ok(())
}

/// Keeps each pseudo box at or above its class's threshold (`thresholds`: one per class; a
/// single one was already the labeller's `min_score`).
pub fn per_class(labels: &mut [Labelled], thresholds: &[f64]) {
    if thresholds.len() < 2 {
        return;
    }
    for l in labels {
        l.boxes
            .retain(|b| thresholds.get(b.class).is_none_or(|&t| b.score >= t as f32));
    }
}

/// Precision and recall of the pseudo boxes `labels` against the ground truth the frames
/// carry (`match_boxes`); `None` when no frame has any.
pub fn pseudo_quality(frames: &[Frame], labels: &[Labelled]) -> Option<(f64, f64)> {
    let gts: usize = frames.iter().map(|f| f.boxes.len()).sum();
    if gts == 0 {
        return None;
    }
    let (mut tp, mut np) = (0usize, 0usize);
    for (f, l) in frames.iter().zip(labels) {
        np += l.boxes.len();
        tp += match_boxes(f, &l.boxes).into_iter().filter(|&m| m).count();
    }
    Some((tp as f64 / np.max(1) as f64, tp as f64 / gts as f64))
}

/// For each of `boxes` (best first, as labellers return them), whether it matches a
/// ground-truth box of `f`: greedily, the unused one of its class with the highest IoU, at
/// least 0.5. Best first, a box's outcome does not depend on any box below it.
pub fn match_boxes(f: &Frame, boxes: &[PseudoBox]) -> Vec<bool> {
    let mut used = vec![false; f.boxes.len()];
    boxes
        .iter()
        .map(|b| {
            let p = b.gt();
            let best = f
                .boxes
                .iter()
                .enumerate()
                .filter(|(i, g)| !used[*i] && g.class == p.class)
                .map(|(i, g)| (i, iou(g, &p)))
                .filter(|x| x.1 >= 0.5)
                .max_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((i, _)) = best {
                used[i] = true;
            }
            best.is_some()
        })
        .collect()
}

fn iou(a: &nestevo_data::GtBox, b: &nestevo_data::GtBox) -> f32 {
    let w = (a.x1.min(b.x1) - a.x0.max(b.x0)).max(0.0);
    let h = (a.y1.min(b.y1) - a.y0.max(b.y0)).max(0.0);
    let inter = w * h;
    let union = a.width() * a.height() + b.width() * b.height() - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// The strategy that carries out `action` (one file per action beside this one).
fn strategy(action: Action) -> Box<dyn Strategy> {
    match action {
        Action::None => Box::new(keep::Keep),
        Action::Distill => Box::new(teach::Teach { original: false }),
        Action::DistillOriginal => Box::new(teach::Teach { original: true }),
        Action::Adapt => Box::new(adapt::Adapt),
        Action::CoEvolve { generator } => Box::new(coevolve::CoEvolve { generator }),
    }
}

/// A terminal's distillation on its upload after the compression rule (`compress`, when the
/// experiment's `[compress]` is on), and the job's work for the memory model: pooled frames
/// count a quarter of a whole frame's activations and MACs.
/// One terminal's distillation on its upload, and the job the scheduler replays for it.
fn distill_job(
    model: &mut Detector,
    upload: &TerminalUpload,
    labels: &[Labelled],
    cfg: &DistillConfig,
    e: &Experiment,
    mem: &MemoryModel,
) -> Result<(super::distill::DistillReport, StageJob)> {
    let frames = upload.frames.as_slice();
    let (rep, share) = if e.compress.enabled {
        let (f, l, c) = compress::compress(&e.compress, frames, labels);
        (distill(model, &f, &l, cfg)?, c.whole_share())
    } else {
        (distill(model, frames, labels, cfg)?, 1.0)
    };
    let mut wk = Work::of_descs(
        &[&model.desc],
        frames.len() as f64,
        e.distill.steps as f64,
        e.distill.batch as f64,
    )
    .map_err(|x| EvolveError::BadInput(format!("{}: memory model: {x}", cfg.context)))?;
    let scale = share + (1.0 - share) / 4.0;
    wk.act_per_frame *= scale;
    wk.macs_per_frame *= scale;
    let t = &upload.terminal;
    let job = StageJob {
        id: format!("distill-{t}"),
        kind: JobKind::Distill,
        terminal: Some(t.clone()),
        memory_mb: mem.estimate(&wk).total_mb,
        seconds: rep.seconds,
    };
    Ok((rep, job))
}

fn training_stats(global: &Detector, e: &Experiment, work: &Path) -> Result<FeatureStats> {
    let beside = PathBuf::from(&e.global.model).with_extension("drift.json");
    for p in [beside, work.join("global.drift.json")] {
        if p.is_file() {
            let s = FeatureStats::load(&p)?;
            if s.layer == e.drift.layer {
                return Ok(s);
            }
        }
    }
    let lab = TorchLabeller::new(global);
    let req = LabelRequest {
        min_score: e.global.min_score as f32,
        feature_layer: Some(e.drift.layer.clone()),
    };
    let mut pool = FramePool::new(StreamId::Source, e.seed);
    let s = feature_stats(
        &lab.label(&pool.sample(TRAIN_STATS_FRAMES), &req)?,
        CLASSES.len(),
    )?;
    std::fs::create_dir_all(work)
        .map_err(|x| EvolveError::BadInput(format!("creating {}: {x}", work.display())))?;
    s.save(&work.join("global.drift.json"))?;
    Ok(s)
}
