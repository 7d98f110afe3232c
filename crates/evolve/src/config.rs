//! The experiment file: terminals (stream, deployed model), windows, the drift rule, the
//! labelling threshold, distillation, mutual learning, the generator, the link model and the
//! seeds, in TOML. Parsing is strict (an unknown key is refused), every value is validated,
//! and every error names the file, the field, the value and what is allowed, as `src/arch`
//! does for accelerator descriptions. Presets `smoke`, `demo` and `paper` are compiled in
//! (`models/experiments/*.toml`); `--set key=value` overrides any field, with numeric path
//! parts indexing the terminals (`terminals.0.stream=E`).

use super::error::ConfigError;
use nestevo_core::config::{self, Config};
use nestevo_data::{StreamId, CLASSES};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Presets compiled into the binary.
pub const PRESETS: &[(&str, &str)] = &[
    (
        "smoke",
        include_str!("../../../models/experiments/smoke.toml"),
    ),
    (
        "demo",
        include_str!("../../../models/experiments/demo.toml"),
    ),
    (
        "paper",
        include_str!("../../../models/experiments/paper.toml"),
    ),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    pub name: String,
    /// Seeds every draw of the run (uploads, training batches, generator noise).
    pub seed: u64,
    pub global: GlobalSpec,
    pub terminals: Vec<TerminalSpec>,
    pub windows: WindowSpec,
    pub drift: DriftSpec,
    pub distill: DistillSpec,
    pub mutual: MutualSpec,
    pub generator: GeneratorSpec,
    pub link: LinkSpec,
    /// Where the global model labels (LibTorch unless the file says otherwise).
    #[serde(default)]
    pub labeller: LabellerSpec,
    /// How the window's jobs share the edge's device (`evolve::schedule`); defaults when absent.
    #[serde(default)]
    pub sched: SchedSpec,
    /// Adaptive data compression before distillation and mutual learning (`evolve::compress`);
    /// off when absent.
    #[serde(default)]
    pub compress: super::compress::CompressSpec,
    /// How methods are compared: replicates and the seeds tuning may use (`compare`).
    #[serde(default)]
    pub protocol: ProtocolSpec,
}

/// The comparison protocol: replicate r runs with run seed `seed + r` and every terminal's
/// stream seed `stream_seed + 1000 r` (scoring), or `tuning_seeds[k] + 1000 r` for terminal k
/// when tuning; the two sets of base seeds are disjoint, so nothing is tuned on the frames that
/// score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProtocolSpec {
    /// Replicates `evolve compare` runs by default.
    pub replicates: usize,
    /// Stream seeds for tuning, one per terminal (cycled when fewer).
    pub tuning_seeds: Vec<u64>,
    /// Seconds of stream per block of the block bootstrap of a run's intervals.
    pub block_s: f64,
}

impl Default for ProtocolSpec {
    fn default() -> Self {
        ProtocolSpec {
            replicates: 5,
            tuning_seeds: vec![901, 902, 903],
            block_s: 10.0,
        }
    }
}

/// Stream seeds of replicate r are the base seeds plus this times r.
pub const REPLICATE_STRIDE: u64 = 1000;

/// The scheduler of the window's training jobs (`sched`, docs/scheduler.md): the policy, the
/// device's memory budget and the share of the device one job uses alone (`sched::Device`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedSpec {
    /// knapsack (NestEvo, Algorithm 3), random (B1), fifo (B2), spf or fair.
    pub policy: String,
    /// The device's memory budget for training jobs (MB, 2^20 bytes).
    pub memory_mb: f64,
    /// Share of the device one job uses alone, in (0, 1] (0.5: this 2-core CPU, one thread a job).
    pub util: f64,
    /// The memory model's per-job workspace (MB): what `nestevo sched fit` measured on this CPU.
    pub workspace_mb: f64,
}

impl Default for SchedSpec {
    fn default() -> Self {
        SchedSpec {
            policy: "knapsack".into(),
            memory_mb: 1024.0,
            util: 0.5,
            workspace_mb: 11.2,
        }
    }
}

impl SchedSpec {
    /// The policy (validated, so it parses).
    pub fn policy(&self) -> nestevo_sched::Policy {
        self.policy.parse().expect("validated")
    }
}

/// Which labeller the loop uses: the global model on LibTorch, or bit-faithfully on the
/// simulated chip (`couple::CimLabeller`; `evolve::cim_labeller` builds it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabellerKind {
    #[default]
    Torch,
    Cim,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LabellerSpec {
    pub kind: LabellerKind,
    /// Accelerator: a preset name or an arch TOML file (kind = "cim").
    pub arch: String,
    /// `key=value` overrides of the arch (as `--set`).
    pub set: Vec<String>,
    /// Conductance noise: none, weight or cell.
    pub noise: String,
    pub mu: f64,
    /// Seed of the first programming's noise draw (reprogramming g draws from seed + g).
    pub seed: u64,
    /// Calibration frames of the activation scales (the source stream's held-out rule, next seed).
    pub calib_frames: usize,
    /// Cost of writing the weights (Table I gives none: an assumption, see `couple::WriteCost`).
    pub write: nestevo_couple::WriteCost,
}

impl Default for LabellerSpec {
    fn default() -> Self {
        LabellerSpec {
            kind: LabellerKind::Torch,
            arch: "isaac".into(),
            set: Vec::new(),
            noise: "none".into(),
            mu: 0.0,
            seed: 0,
            calib_frames: 16,
            write: nestevo_couple::WriteCost::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalSpec {
    /// Checkpoint `NAME.safetensors` (its `NAME.toml` beside it).
    pub model: String,
    /// Pseudo boxes are the global model's detections at or above this score.
    pub min_score: f64,
    /// Label each terminal's frames for training with the global model's batch-norm
    /// statistics re-estimated on those frames (AdaBN; FedBN's per-client statistics at the
    /// edge): a night stream is normalised as night, not as the day the model was trained on.
    /// The drift rule still measures the global model as it is.
    #[serde(default)]
    pub adapt_bn: bool,
    /// One pseudo-box threshold per class (`data::CLASSES` order), replacing `min_score` for
    /// the boxes and the distillation's peaks; empty: `min_score` for every class. Chosen on
    /// tuning seeds by `nestevo evolve thresholds`.
    #[serde(default)]
    pub class_min_scores: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminalSpec {
    /// A short name: letters, digits, `-` and `_` (it names files).
    pub id: String,
    /// A rendered stream: A, B, C, D, E or F; or `folder` for a user's folder of frames (`frames`).
    pub stream: String,
    /// Seed of the terminal's rendered stream (unused for a folder).
    #[serde(default)]
    pub stream_seed: u64,
    /// The deployed model's checkpoint `NAME.safetensors`.
    pub model: String,
    /// With `stream = "folder"`: a folder of PNG frames, with their ground truth as COCO
    /// `annotations.json` (what `nestevo data render` writes); the loop scores against it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames: Option<String>,
    /// With `stream = "folder"`: the folder's clock in frames per second (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<f64>,
}

/// `stream` of a terminal fed from a folder of frames.
pub const FOLDER_STREAM: &str = "folder";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// Evolution windows in the run.
    pub count: usize,
    /// Length of one window in seconds of stream time (Eq. 6-8's t_total).
    pub t_total_s: f64,
    /// Frames all terminals together upload per window (Eq. 5's D_max).
    pub d_max: usize,
    /// Frames each terminal uploads at least per window.
    pub min_upload: usize,
    /// Frames of each window, spread over it, on which a terminal's models are scored.
    pub eval_frames: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftSpec {
    /// delta_i > gamma counts terminal i as drifted (Eq. 12).
    pub gamma: f64,
    /// delta_global < epsilon: distillation only; otherwise co-evolution (Eq. 13).
    pub epsilon: usize,
    /// The global model's layer whose features are pooled per pseudo box.
    pub layer: String,
}

/// Distillation into the terminals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistillSpec {
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    /// Follow the teacher's probability on every heat-map cell (a binary cross-entropy beside
    /// the focal loss at its peaks), not only its confident peaks.
    #[serde(default)]
    pub soft: bool,
    /// Horizontal flips (the teacher's outputs flipped with the frame) and brightness/contrast
    /// jitter of the student's input.
    #[serde(default)]
    pub augment: bool,
    /// Frames of earlier uploads each terminal keeps on the edge (most recent first), relabelled
    /// by the current teacher and trained on beside the new upload: against forgetting; 0: none.
    #[serde(default)]
    pub memory: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MutualSpec {
    /// Eq. 14: weight of the terminal's pseudo-label loss against KL(P_mid || P_local).
    pub alpha: f64,
    /// Eq. 15: weight of the intermediate's pseudo-label loss against KL(P_local || P_mid).
    pub beta: f64,
    /// Eq. 18-20 weight-noise coefficient in the intermediates' forward pass.
    pub mu: f64,
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    /// What the intermediate's L_C follows: `soft` (the global model's soft outputs, as
    /// distillation) or `boxes` (its pseudo boxes as CenterNet targets: self-training). The
    /// terminal's L_C always follows the soft outputs.
    #[serde(default = "soft")]
    pub labels: PairLabels,
    /// Train the intermediates with the global model's batch-norm statistics frozen.
    #[serde(default = "yes")]
    pub freeze_bn: bool,
    /// Labelled source frames per intermediate step (rehearsal of the global model's own
    /// training domain); 0: none.
    #[serde(default)]
    pub replay: usize,
    /// Keep each terminal's intermediate from window to window (else each window copies the
    /// global model afresh).
    #[serde(default)]
    pub persist: bool,
    /// After FedAvg, re-estimate the new global model's batch-norm statistics on the window's
    /// uploads and the replayed source frames (the average of statistics is not the statistics
    /// of the pooled data).
    #[serde(default)]
    pub reestimate_bn: bool,
    /// The frames `reestimate_bn` uses: `uploads-and-source` (the window's uploads and as many
    /// replayed source frames as one terminal's share) or `source` (the replayed source frames
    /// only: the global model as it is keeps the normalisation of its training domain, and each
    /// terminal's frames are normalised as their own when labelled, with `global.adapt_bn`).
    #[serde(default = "uploads_and_source")]
    pub bn_frames: BnFrames,
}

fn uploads_and_source() -> BnFrames {
    BnFrames::UploadsAndSource
}

/// What the new global model's batch-norm statistics are re-estimated on after FedAvg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BnFrames {
    UploadsAndSource,
    Source,
}

fn yes() -> bool {
    true
}

fn soft() -> PairLabels {
    PairLabels::Soft
}

/// The global model's labels that `L_C` of Eq. 14-15 follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PairLabels {
    /// The pseudo boxes, as CenterNet targets (missed objects become background).
    Boxes,
    /// The soft outputs, as distillation follows them (`train::loss::distill_loss`: confident
    /// peaks are positives, every other cell keeps the teacher's probability).
    Soft,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorSpec {
    pub noise_dim: usize,
    pub hidden: usize,
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    /// Weight of FedGen's diversity term.
    pub diversity: f64,
    /// Generated samples added to each mutual-learning batch.
    pub samples: usize,
    /// Weight of the feature-level term (`feature_term`): the intermediate's latent at each
    /// pseudo box's centre is pulled toward the generator's prototype of that class. 0: the
    /// samples reach the heads only.
    #[serde(default)]
    pub feature: f64,
    /// Weight of the same samples in each terminal's loss (beside mutual.alpha), mapped into
    /// its narrower latent by a least-squares fit on the pair's frames
    /// (`coevolve::latent_projection`): the generator broadcast to the terminals as well. 0:
    /// the terminals learn from real frames only.
    #[serde(default)]
    pub terminal: f64,
    /// Scale every generated sample to the intermediates' own latent norm at their pseudo-box
    /// centres (measured each window on their training frames, frame-weighted), so that the
    /// generator chooses directions only (`Generator::with_norm`). false: unbounded samples.
    #[serde(default)]
    pub match_norm: bool,
    /// Where each pair's generated samples draw their classes from: the class shares of all
    /// pseudo boxes (`pooled`, FedGen's prior) or of its own terminal's (`own`), the mix that
    /// terminal is scored on. The generator itself is trained on the pooled shares either way.
    #[serde(default, skip_serializing_if = "SampleLabels::is_pooled")]
    pub sample_labels: SampleLabels,
}

/// The classes a pair's generated samples are drawn from (`generator.sample_labels`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SampleLabels {
    /// In proportion to every terminal's pseudo boxes together.
    #[default]
    Pooled,
    /// In proportion to the pair's own terminal's pseudo boxes (the pooled shares where it has
    /// none).
    Own,
}

impl SampleLabels {
    pub fn is_pooled(&self) -> bool {
        *self == SampleLabels::Pooled
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// Terminal-server bandwidth in megabits per second (both directions).
    pub bandwidth_mbps: f64,
    /// One-way latency per transfer in milliseconds.
    pub latency_ms: f64,
}

impl Config for Experiment {
    const KIND: &'static str = "experiment file";
    const PRESETS: &'static [(&'static str, &'static str)] = PRESETS;

    fn validate(&self, source: &str) -> Result<(), ConfigError> {
        validate(self, source)
    }

    /// A terminal's optional fields (absent from the serialised form) may be set.
    fn optional_field(path: &[&str]) -> Option<toml::Value> {
        match path {
            ["terminals", _, field] => TERMINAL_OPTIONAL
                .iter()
                .find(|(k, _)| k == field)
                .map(|(_, like)| like()),
            ["generator", "sample_labels"] => Some(toml::Value::String("pooled".into())),
            _ => None,
        }
    }
}

/// A preset by name, validated.
pub fn preset(name: &str) -> Result<Experiment, ConfigError> {
    config::preset(name)
}

/// Reads and validates an experiment file.
pub fn load_experiment(path: &Path) -> Result<Experiment, ConfigError> {
    config::load(path)
}

/// The files an experiment reads, checked before anything runs (the values are checked when
/// it is read): every checkpoint and the description beside it, each folder terminal's frames,
/// and the drift layer among the global model's layers. Paths are read from the working
/// directory, as a run reads them.
pub fn check_files(e: &Experiment, source: &str) -> Result<(), ConfigError> {
    let checkpoint = |field: &str, path: &str| -> Result<nestevo_model::ModelDesc, ConfigError> {
        let p = Path::new(path);
        let bad = |allowed: String| Err(ConfigError::new(source, field, path, allowed));
        if !p.is_file() {
            return bad("an existing NAME.safetensors checkpoint (no such file)".into());
        }
        let desc = p.with_extension("toml");
        if !desc.is_file() {
            return bad(format!(
                "a checkpoint with its description beside it ({} is missing)",
                desc.display()
            ));
        }
        nestevo_model::load_model(&desc).or_else(|x| {
            bad(format!(
                "a checkpoint whose description loads ({}: {x})",
                desc.display()
            ))
        })
    };
    let g = checkpoint("global.model", &e.global.model)?;
    if g.index_of(&e.drift.layer).is_none() {
        let names: Vec<&str> = g.layers.iter().map(|l| l.name.as_str()).collect();
        return Err(ConfigError::new(
            source,
            "drift.layer",
            &e.drift.layer,
            format!("a layer of the global model: {}", names.join(", ")),
        ));
    }
    for (k, t) in e.terminals.iter().enumerate() {
        checkpoint(&format!("terminals[{k}].model"), &t.model)?;
        if let Some(f) = &t.frames {
            if !Path::new(f).is_dir() {
                return Err(ConfigError::new(
                    source,
                    format!("terminals[{k}].frames"),
                    f,
                    "an existing folder of PNG frames (no such folder)",
                ));
            }
        }
    }
    Ok(())
}

/// Parses and validates TOML text; `source` names it in errors.
pub fn parse_experiment(text: &str, source: &str) -> Result<Experiment, ConfigError> {
    config::parse(text, source)
}

/// Checks every value's range; the first bad one is the error.
pub fn validate(e: &Experiment, source: &str) -> Result<(), ConfigError> {
    let err = |field: &str, value: &dyn std::fmt::Display, allowed: &str| {
        Err(ConfigError::new(source, field, value, allowed))
    };
    let pos_int = |field: &str, v: usize| {
        if v == 0 {
            err(field, &v, "must be at least 1")
        } else {
            Ok(())
        }
    };
    let pos_f = |field: &str, v: f64| {
        if !(v.is_finite() && v > 0.0) {
            err(field, &v, "must be a finite number > 0")
        } else {
            Ok(())
        }
    };
    let unit = |field: &str, v: f64| {
        if !(0.0..=1.0).contains(&v) {
            err(field, &v, "must lie in [0, 1]")
        } else {
            Ok(())
        }
    };
    let lr = |field: &str, v: f64| {
        if !(v.is_finite() && v > 0.0 && v <= 1.0) {
            err(field, &v, "a learning rate must lie in (0, 1]")
        } else {
            Ok(())
        }
    };
    let ident = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if !ident(&e.name) {
        return err(
            "name",
            &format!("{:?}", e.name),
            "1 to 64 letters, digits, `-` or `_`",
        );
    }
    let model = |field: &str, m: &str| {
        if !m.ends_with(".safetensors") {
            err(
                field,
                &format!("{m:?}"),
                "a checkpoint NAME.safetensors (with NAME.toml beside it)",
            )
        } else {
            Ok(())
        }
    };
    model("global.model", &e.global.model)?;
    if !(e.global.min_score > 0.0 && e.global.min_score < 1.0) {
        return err(
            "global.min_score",
            &e.global.min_score,
            "a detection score in (0, 1)",
        );
    }
    let cms = &e.global.class_min_scores;
    if !(cms.is_empty() || cms.len() == CLASSES.len()) || cms.iter().any(|&v| !(v > 0.0 && v < 1.0))
    {
        return err(
            "global.class_min_scores",
            &format!("{cms:?}"),
            &format!(
                "[] or {} detection scores in (0, 1), one per class {CLASSES:?}",
                CLASSES.len()
            ),
        );
    }
    if e.terminals.is_empty() {
        return err("terminals", &"[]", "at least one [[terminals]] table");
    }
    for (k, t) in e.terminals.iter().enumerate() {
        let f = |name: &str| format!("terminals[{k}].{name}");
        if !ident(&t.id) {
            return err(
                &f("id"),
                &format!("{:?}", t.id),
                "1 to 64 letters, digits, `-` or `_`",
            );
        }
        if e.terminals[..k].iter().any(|o| o.id == t.id) {
            return err(
                &f("id"),
                &format!("{:?}", t.id),
                "terminal ids must be unique",
            );
        }
        if t.stream == FOLDER_STREAM {
            match &t.frames {
                None => {
                    return err(
                        &f("frames"),
                        &"missing",
                        "with stream = \"folder\", the folder of frames (PNGs + annotations.json)",
                    )
                }
                Some(d) if d.is_empty() => return err(&f("frames"), &"\"\"", "a folder of frames"),
                Some(_) => {}
            }
            if let Some(fps) = t.fps {
                if !(fps.is_finite() && fps > 0.0 && fps <= 1000.0) {
                    return err(&f("fps"), &fps, "frames per second above 0, at most 1000");
                }
            }
        } else {
            match t.stream.parse::<StreamId>() {
                Ok(StreamId::Source) | Err(_) => {
                    return err(
                        &f("stream"),
                        &format!("{:?}", t.stream),
                        "a terminal stream: A, B, C, D, E or F, or \"folder\" with frames = DIR",
                    )
                }
                Ok(_) => {}
            }
            for (name, given) in [("frames", t.frames.is_some()), ("fps", t.fps.is_some())] {
                if given {
                    return err(
                        &f(name),
                        &"given",
                        &format!(
                            "only with stream = \"folder\" (this terminal's stream is {})",
                            t.stream
                        ),
                    );
                }
            }
        }
        model(&f("model"), &t.model)?;
    }
    let w = &e.windows;
    pos_int("windows.count", w.count)?;
    pos_f("windows.t_total_s", w.t_total_s)?;
    pos_int("windows.min_upload", w.min_upload)?;
    let need = w.min_upload * e.terminals.len();
    if w.d_max < need {
        return err(
            "windows.d_max",
            &w.d_max,
            &format!(
                "must be at least windows.min_upload x terminals = {} x {} = {need}",
                w.min_upload,
                e.terminals.len()
            ),
        );
    }
    // A window of t_total_s seconds holds t_total_s * fps frames; uploads and scoring frames
    // must fit in it.
    for (k, t) in e.terminals.iter().enumerate() {
        let fps = e.fps_of(k);
        let frames = (w.t_total_s * fps).floor() as usize;
        if w.d_max + w.eval_frames > frames {
            return err(
                "windows.t_total_s",
                &w.t_total_s,
                &format!(
                    "a window of terminal {} (stream {} at {fps} fps) holds {frames} frames, \
                     fewer than windows.d_max + windows.eval_frames = {}",
                    t.id,
                    t.stream,
                    w.d_max + w.eval_frames
                ),
            );
        }
    }
    pos_int("windows.eval_frames", w.eval_frames)?;
    pos_f("drift.gamma", e.drift.gamma)?;
    if e.drift.epsilon > e.terminals.len() {
        return err(
            "drift.epsilon",
            &e.drift.epsilon,
            &format!(
                "at most the number of terminals ({}); 0 co-evolves every window",
                e.terminals.len()
            ),
        );
    }
    if e.drift.layer.trim().is_empty() {
        return err(
            "drift.layer",
            &"\"\"",
            "a layer name of the global model (e.g. head_relu)",
        );
    }
    pos_int("distill.steps", e.distill.steps)?;
    if e.distill.memory > 4096 {
        return err(
            "distill.memory",
            &e.distill.memory,
            "frames kept per terminal, 0 (none) to 4096",
        );
    }
    pos_int("distill.batch", e.distill.batch)?;
    lr("distill.lr", e.distill.lr)?;
    let m = &e.mutual;
    unit("mutual.alpha", m.alpha)?;
    unit("mutual.beta", m.beta)?;
    if !(m.mu.is_finite() && (0.0..=0.5).contains(&m.mu)) {
        return err(
            "mutual.mu",
            &m.mu,
            "a noise coefficient in [0, 0.5] (SPEC 3.3)",
        );
    }
    pos_int("mutual.steps", m.steps)?;
    pos_int("mutual.batch", m.batch)?;
    lr("mutual.lr", m.lr)?;
    if m.replay > 256 {
        return err(
            "mutual.replay",
            &m.replay,
            "source frames per step, 0 (none) to 256",
        );
    }
    let g = &e.generator;
    pos_int("generator.noise_dim", g.noise_dim)?;
    pos_int("generator.hidden", g.hidden)?;
    pos_int("generator.steps", g.steps)?;
    pos_int("generator.batch", g.batch)?;
    lr("generator.lr", g.lr)?;
    if !(g.diversity.is_finite() && g.diversity >= 0.0) {
        return err("generator.diversity", &g.diversity, "a finite number >= 0");
    }
    if !(g.feature.is_finite() && (0.0..=100.0).contains(&g.feature)) {
        return err(
            "generator.feature",
            &g.feature,
            "a weight from 0 (no feature-level term) to 100",
        );
    }
    if !(g.terminal.is_finite() && (0.0..=100.0).contains(&g.terminal)) {
        return err(
            "generator.terminal",
            &g.terminal,
            "a weight from 0 (the terminals see no samples) to 100",
        );
    }
    // The terminals take the samples the intermediates' steps draw: with none drawn the weight
    // would silently do nothing.
    if g.terminal > 0.0 && g.samples == 0 {
        return err(
            "generator.terminal",
            &g.terminal,
            "0 while generator.samples = 0 (the terminals take the samples the pairs draw)",
        );
    }
    let l = &e.labeller;
    match l.noise.parse::<nestevo_cim::NoiseMode>() {
        Err(_) => {
            return err(
                "labeller.noise",
                &format!("{:?}", l.noise),
                "none, weight or cell",
            )
        }
        Ok(nestevo_cim::NoiseMode::None) if l.mu != 0.0 => {
            return err("labeller.mu", &l.mu, "0 with labeller.noise = \"none\"")
        }
        Ok(_) => {}
    }
    if !(l.mu.is_finite() && (0.0..=1.0).contains(&l.mu)) {
        return err(
            "labeller.mu",
            &l.mu,
            "a noise coefficient in [0, 1] (SPEC 3.3)",
        );
    }
    if l.arch.trim().is_empty() {
        return err(
            "labeller.arch",
            &"\"\"",
            "an arch preset name or an arch TOML file",
        );
    }
    pos_int("labeller.calib_frames", l.calib_frames)?;
    for (name, v) in [
        ("labeller.write.row_write_ns", l.write.row_write_ns),
        ("labeller.write.cell_write_pj", l.write.cell_write_pj),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            return err(name, &v, "a finite number >= 0");
        }
    }
    let sc = &e.sched;
    if sc.policy.parse::<nestevo_sched::Policy>().is_err() {
        return err(
            "sched.policy",
            &format!("{:?}", sc.policy),
            "allowed are knapsack, random, fifo, spf, fair",
        );
    }
    pos_f("sched.memory_mb", sc.memory_mb)?;
    if !(sc.util.is_finite() && sc.util > 0.0 && sc.util <= 1.0) {
        return err(
            "sched.util",
            &sc.util,
            "a share of the device in (0, 1] (1: jobs gain nothing from sharing it)",
        );
    }
    if !(sc.workspace_mb.is_finite() && sc.workspace_mb >= 0.0) {
        return err(
            "sched.workspace_mb",
            &sc.workspace_mb,
            "a finite number >= 0",
        );
    }
    pos_f("compress.small_px", e.compress.small_px)?;
    let p = &e.protocol;
    pos_int("protocol.replicates", p.replicates)?;
    if p.tuning_seeds.is_empty() {
        return err("protocol.tuning_seeds", &"[]", "at least one stream seed");
    }
    if !(p.block_s.is_finite() && p.block_s >= 1.0) {
        return err(
            "protocol.block_s",
            &p.block_s,
            "seconds of stream per bootstrap block, at least 1",
        );
    }
    pos_f("link.bandwidth_mbps", e.link.bandwidth_mbps)?;
    if !(e.link.latency_ms.is_finite() && e.link.latency_ms >= 0.0) {
        return err(
            "link.latency_ms",
            &e.link.latency_ms,
            "a finite number >= 0",
        );
    }
    Ok(())
}

/// Applies `key=value` overrides in order, then validates the result.
pub fn apply_overrides(
    e: &Experiment,
    sets: &[String],
    source: &str,
) -> Result<Experiment, ConfigError> {
    config::apply_overrides(e, sets, source)
}

/// One `key=value` override (`mutual.alpha=0.3`, `terminals.1.stream=E`). The key must exist;
/// the value is read as the type the field has.
pub fn apply_override(e: &Experiment, set: &str, source: &str) -> Result<Experiment, ConfigError> {
    config::apply_override(e, set, source)
}

/// The fields in which experiment `b` differs from `a`, as `key: A -> B` (dotted keys, terminals
/// indexed), empty when they are the same experiment.
pub fn differences(a: &Experiment, b: &Experiment) -> Vec<String> {
    config::differences(a, b)
}

/// A terminal's optional fields and a value of each one's type.
#[allow(clippy::type_complexity)]
const TERMINAL_OPTIONAL: &[(&str, fn() -> toml::Value)] = &[
    ("frames", || toml::Value::String(String::new())),
    ("fps", || toml::Value::Float(30.0)),
];

impl Experiment {
    /// The pseudo-box thresholds: one per class, or `[min_score]` for every class.
    pub fn pseudo_thresholds(&self) -> Vec<f64> {
        match self.global.class_min_scores.is_empty() {
            true => vec![self.global.min_score],
            false => self.global.class_min_scores.clone(),
        }
    }

    /// Terminal `k`'s rendered stream; `None` for a folder.
    pub fn stream_of(&self, k: usize) -> Option<StreamId> {
        self.terminals[k].stream.parse().ok()
    }

    /// Terminal `k`'s clock: its stream's fps, or the folder's (default 30).
    pub fn fps_of(&self, k: usize) -> f64 {
        match self.stream_of(k) {
            Some(s) => s.fps(),
            None => self.terminals[k].fps.unwrap_or(30.0),
        }
    }

    /// Replicate `r` of this experiment: run seed `seed + r`, each rendered terminal's stream
    /// seed `base + 1000 r` with `base` its scoring seed, or its tuning seed when `tuning`.
    pub fn replicate(&self, r: usize, tuning: bool) -> Experiment {
        let mut e = self.clone();
        e.seed = self.seed.wrapping_add(r as u64);
        let tune = &self.protocol.tuning_seeds;
        for (k, t) in e.terminals.iter_mut().enumerate() {
            let base = if tuning {
                tune[k % tune.len()]
            } else {
                t.stream_seed
            };
            t.stream_seed = base + REPLICATE_STRIDE * r as u64;
        }
        e
    }

    /// Refuses a rendered terminal whose stream seed is one of `protocol.tuning_seeds`: what a
    /// comparison scores on is never what was tuned on. (A single run may use any seed: tuning
    /// runs are single runs.)
    pub fn check_scoring_seeds(&self, source: &str) -> Result<(), ConfigError> {
        let tune = &self.protocol.tuning_seeds;
        for (k, t) in self.terminals.iter().enumerate() {
            if t.stream != FOLDER_STREAM && tune.contains(&t.stream_seed) {
                return Err(ConfigError::new(
                    source,
                    format!("terminals[{k}].stream_seed"),
                    t.stream_seed,
                    format!(
                        "a seed outside protocol.tuning_seeds {tune:?}: the frames a comparison \
                         scores on are never the frames it was tuned on (--tuning runs on those)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The experiment as TOML (what `summary.json`'s run used, written beside it).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("an experiment serialises")
    }
}
