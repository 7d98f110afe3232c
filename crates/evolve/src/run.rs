//! The in-process evolution loop (`nestevo evolve run`): the terminals' world around the edge
//! (`edge`): streams, clocks, uploads, scoring and the life-cycle performance.
//!
//! Time: terminal i's stream is cut into segments of `t_total_s` seconds (N_i = t_total_s x
//! fps frames). Window k: at the end of segment k the terminal uploads d_i frames spread
//! evenly over segment k (d_i from the edge's plan, Eq. 5); the edge labels them, measures the
//! drift, decides and trains (`Edge::window`); the new model takes over
//! `t_evolving = t_c + t_w + t_r` into segment k+1, on which `eval_frames` frames spread
//! evenly are scored: the old model, the new model, and the deployed one (old before
//! t_evolving, new after), so every score is on frames later than any frame a model was
//! trained on; the global model before and after the window is scored on the same frames.
//! After the last window, every terminal's final model and the original and final global
//! models are scored on segment `count + 1` (frames no model saw), with 95 % intervals by the
//! block bootstrap over stretches of `protocol.block_s` seconds (`eval::blocks_of`). Beside
//! them, every score of the terminal's starting model on the same frames (what no evolution
//! gives), so that each run carries its own paired baseline.
//! t_c: the uploaded frames as raw RGB up and the new model's float32 parameters down over
//! the link (`lcp::transfer_s`).

use super::config::Experiment;
use super::drift::Decision;
use super::edge::{seed_of, Edge, LabellerFactory, TerminalUpload};
use super::error::{EvolveError, Result};
use super::lcp::{lcp, served_by_old, transfer_s, EvolvingTime};
pub use super::method::Method;
use nestevo_data::{Folder, Frame, FrameSource, GtBox};
use nestevo_eval::{
    blocks_of, evaluate, evaluate_with_block_ci, ground_truth, mean_map50_with_block_ci, Detection,
    ScoredSet,
};
use nestevo_train::checkpoint::{self, TrainState};
use nestevo_train::detector::Detector;
use nestevo_train::evaluate::predict;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub struct RunOptions {
    pub exp: Experiment,
    pub method: Method,
    pub out: PathBuf,
    pub device: tch::Device,
    pub resume: bool,
    pub progress: bool,
}

/// One terminal in one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowRecord {
    pub window: usize,
    pub terminal: String,
    pub stream: String,
    pub uploaded: usize,
    pub pseudo_boxes: usize,
    pub delta: f64,
    pub delta_global: usize,
    /// What the drift rule decides (Eq. 13).
    pub decision: Decision,
    /// What this method did.
    pub action: String,
    pub map50_before: f64,
    pub map50_before_lo: f64,
    pub map50_before_hi: f64,
    pub map50_after: f64,
    pub map50_after_lo: f64,
    pub map50_after_hi: f64,
    /// The deployed model (old until t_evolving, then new) on the window's frames.
    pub map50_deployed: f64,
    /// Eq. 6 from the before and after mAPs.
    pub lcp: f64,
    /// The terminal's starting model (never evolved) on the same frames.
    #[serde(default)]
    pub map50_start: f64,
    /// The window's pseudo boxes against ground truth (a diagnostic: `edge::pseudo_quality`).
    #[serde(default)]
    pub pseudo_precision: Option<f64>,
    #[serde(default)]
    pub pseudo_recall: Option<f64>,
    /// The terminal's intermediate: relative distance from the global model at the window's
    /// start and after its local phase (co-evolution only).
    #[serde(default)]
    pub mid_distance_start: Option<f64>,
    #[serde(default)]
    pub mid_distance: Option<f64>,
    /// Its intermediate after the local phase on the other terminals' uploads, mAP@0.5.
    #[serde(default)]
    pub mid_map50_others: Option<f64>,
    /// The global model before and after the window on this terminal's scoring frames.
    pub global_map50: f64,
    pub global_map50_after: f64,
    pub t_c: f64,
    pub t_w: f64,
    pub t_r: f64,
    /// Labelling time of the terminal's upload (seconds; modelled or measured).
    pub label_s: f64,
    pub first_loss: f64,
    pub last_loss: f64,
    /// The window's generator (the same on every terminal's row; absent without one): its loss
    /// over the first and the last tenth of its steps, its accuracy on the intermediates'
    /// heads (mean over heads) and its samples' mean L2 norm.
    #[serde(default)]
    pub gen_loss_first: Option<f64>,
    #[serde(default)]
    pub gen_loss_last: Option<f64>,
    #[serde(default)]
    pub gen_accuracy: Option<f64>,
    #[serde(default)]
    pub gen_latent_norm: Option<f64>,
    /// This terminal's pair: the generated samples' cross-entropy on its intermediate's head
    /// and the feature-level term (first and last tenth of the steps), and the intermediate's
    /// latent norm at its pseudo-box centres.
    #[serde(default)]
    pub sample_ce_first: Option<f64>,
    #[serde(default)]
    pub sample_ce_last: Option<f64>,
    #[serde(default)]
    pub feature_first: Option<f64>,
    #[serde(default)]
    pub feature_last: Option<f64>,
    #[serde(default)]
    pub mid_latent_norm: Option<f64>,
    /// This terminal's share of the samples (`generator.terminal`): their cross-entropy on its
    /// head (first and last tenth of the pair's steps) and the latent projection's R^2.
    #[serde(default)]
    pub terminal_ce_first: Option<f64>,
    #[serde(default)]
    pub terminal_ce_last: Option<f64>,
    #[serde(default)]
    pub projection_r2: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    windows_done: usize,
    global_version: usize,
    records: Vec<WindowRecord>,
    seconds: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TerminalSummary {
    pub id: String,
    pub stream: String,
    pub model: String,
    pub final_model: String,
    /// Means over the windows.
    pub mean_map50_before: f64,
    pub mean_map50_after: f64,
    pub mean_lcp: f64,
    /// The final model on the post-run segment, with its 95 % interval.
    pub final_map50: f64,
    pub final_map50_lo: f64,
    pub final_map50_hi: f64,
    /// The starting model on the same post-run frames.
    #[serde(default)]
    pub start_map50: f64,
    #[serde(default)]
    pub start_map50_lo: f64,
    #[serde(default)]
    pub start_map50_hi: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub experiment: String,
    pub method: Method,
    pub windows: usize,
    pub terminals: Vec<TerminalSummary>,
    /// Over terminals and windows.
    pub mean_map50_before: f64,
    pub mean_map50_after: f64,
    pub mean_lcp: f64,
    /// Table 4: the mean over terminals of the final models on the post-run segment, with
    /// the bootstrap interval of that mean (`eval::mean_map50_with_ci`).
    pub final_terminal_map50: f64,
    pub final_terminal_map50_lo: f64,
    pub final_terminal_map50_hi: f64,
    /// The same mean for the terminals' starting models on the same frames.
    #[serde(default)]
    pub start_terminal_map50: f64,
    #[serde(default)]
    pub start_terminal_map50_lo: f64,
    #[serde(default)]
    pub start_terminal_map50_hi: f64,
    /// The original and the final global model on the terminals' joint post-run frames.
    pub global_map50_before: f64,
    pub global_map50_before_lo: f64,
    pub global_map50_before_hi: f64,
    pub global_map50_after: f64,
    pub global_map50_after_lo: f64,
    pub global_map50_after_hi: f64,
    /// The same two models scored per terminal's post-run frames and averaged over the
    /// terminals (interval of the mean); the joint figure above also pools detections across
    /// streams, so it also rewards scores calibrated alike on every stream.
    #[serde(default)]
    pub global_mean_map50_before: f64,
    #[serde(default)]
    pub global_mean_map50_before_lo: f64,
    #[serde(default)]
    pub global_mean_map50_before_hi: f64,
    #[serde(default)]
    pub global_mean_map50_after: f64,
    #[serde(default)]
    pub global_mean_map50_after_lo: f64,
    #[serde(default)]
    pub global_mean_map50_after_hi: f64,
    /// Windows whose method co-evolved (the global model changed).
    pub global_evolutions: usize,
    pub final_global: String,
    /// The labeller (LibTorch or the simulated chip) and, on a chip, the modelled energy of
    /// its labelling and of (re)programming it over the run (joules; 0 on LibTorch).
    #[serde(default)]
    pub labeller: String,
    #[serde(default)]
    pub label_energy_j: f64,
    #[serde(default)]
    pub program_energy_j: f64,
    pub seconds: f64,
}

fn write_atomic(path: &Path, text: &str) -> Result<()> {
    Ok(nestevo_core::error::write_atomic(path, text.as_bytes())?)
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).expect("serialisable")
}

/// Frames per segment of terminal `k`.
fn segment_len(e: &Experiment, k: usize) -> u64 {
    (e.windows.t_total_s * e.fps_of(k)).floor() as u64
}

/// Every terminal's frames: its rendered stream, or its folder, read once and checked to hold
/// ground truth, frames of its model's size, and the `count + 2` segments the run looks at
/// (uploads from segments 0..count, scoring up to segment count, the post-run segment count + 1).
pub fn terminal_sources(e: &Experiment) -> Result<Vec<FrameSource>> {
    let mut out = Vec::with_capacity(e.terminals.len());
    for (k, t) in e.terminals.iter().enumerate() {
        if let Some(id) = e.stream_of(k) {
            out.push(FrameSource::rendered(id, t.stream_seed));
            continue;
        }
        let field = format!("terminals[{k}].frames");
        let dir = t.frames.as_deref().unwrap_or_default();
        let folder = Folder::read(Path::new(dir), e.fps_of(k))
            .map_err(|x| EvolveError::BadInput(format!("{field} = {dir:?}: {x}")))?;
        if !folder.labelled() {
            return Err(EvolveError::BadInput(format!(
                "{field} = {dir:?}: no {} beside the frames; the loop scores every terminal \
                 against ground truth (COCO-style, as `nestevo data render` writes); an \
                 unlabelled folder can be played against the service (`nestevo terminal \
                 --folder DIR`)",
                nestevo_data::ANNOTATIONS
            )));
        }
        let need = (e.windows.count as u64 + 2) * segment_len(e, k);
        if folder.len() < need {
            return Err(EvolveError::BadInput(format!(
                "{field} = {dir:?}: holds {} frames; {} windows of {} s at {} fps need {need} \
                 ((windows.count + 2) x {} frames: the windows, the scoring segment after the \
                 last and the post-run segment); give more frames, or lower windows.count or \
                 windows.t_total_s",
                folder.len(),
                e.windows.count,
                e.windows.t_total_s,
                e.fps_of(k),
                segment_len(e, k)
            )));
        }
        out.push(FrameSource::Folder(folder));
    }
    Ok(out)
}

/// `n` frame indices spread evenly over segment `seg` of length `len`, from `offset`.
fn spread(seg: u64, len: u64, n: usize, offset: u64) -> Vec<u64> {
    (0..n as u64)
        .map(|j| seg * len + (j * len / n.max(1) as u64 + offset) % len)
        .collect()
}

/// Uploads per terminal of experiment `e` given the previous window's deltas (Eq. 5).
pub fn uploads(e: &Experiment, previous: Option<&[f64]>) -> Vec<usize> {
    let deltas: Vec<Option<f64>> = match previous {
        Some(d) => d.iter().map(|&x| Some(x)).collect(),
        None => vec![None; e.terminals.len()],
    };
    super::edge::upload_counts(e.windows.d_max, e.windows.min_upload, &deltas)
}

/// Terminal `k`'s `n` uploaded frames of window `w`: spread evenly over segment `w` from a
/// seeded offset.
pub fn upload_frames(
    e: &Experiment,
    k: usize,
    src: &FrameSource,
    w: usize,
    n: usize,
) -> Result<Vec<Frame>> {
    let len = segment_len(e, k);
    let offset = seed_of(e.seed, w, k, 1) % (len / n.max(1) as u64).max(1);
    spread(w as u64, len, n, offset)
        .into_iter()
        .map(|i| src.frame(i))
        .collect::<std::result::Result<_, _>>()
        .map_err(|x| EvolveError::BadInput(format!("terminal {}: {x}", e.terminals[k].id)))
}

/// Segment `seg`'s `n` scoring frames of terminal `k`, renumbered 0.. (image ids), and their
/// times from the segment's start.
pub fn scoring_frames(
    e: &Experiment,
    k: usize,
    st: &FrameSource,
    seg: u64,
    n: usize,
) -> Result<(Vec<Frame>, Vec<f64>)> {
    let len = segment_len(e, k);
    let mut frames: Vec<Frame> = spread(seg, len, n, 0)
        .into_iter()
        .map(|i| st.frame(i))
        .collect::<std::result::Result<_, _>>()
        .map_err(|x| EvolveError::BadInput(format!("terminal {}: {x}", e.terminals[k].id)))?;
    let start = st.time_s(seg * len);
    let times = frames.iter().map(|f| f.time_s - start).collect();
    for (j, f) in frames.iter_mut().enumerate() {
        f.index = j as u64;
    }
    Ok((frames, times))
}

/// A run resumes only with the experiment it was started with (more windows allowed: a
/// resumed run may extend the one it continues), else its finished windows would be mixed with
/// others; the error names the differing fields.
fn check_resumable(e: &Experiment, out: &Path) -> Result<()> {
    let made = out.join("experiment.toml");
    let Ok(text) = std::fs::read_to_string(&made) else {
        return Ok(());
    };
    let then = super::config::parse_experiment(&text, &made.display().to_string())?;
    let diff: Vec<String> = super::config::differences(&then, e)
        .into_iter()
        .filter(|d| !d.starts_with("windows.count:"))
        .collect();
    if diff.is_empty() {
        return Ok(());
    }
    Err(EvolveError::BadInput(format!(
        "--resume: {} was started with another experiment ({}); resume with the same \
         settings (only windows.count may grow), or give another --out",
        out.display(),
        diff.join(", ")
    )))
}

/// The global model as `dir/global.safetensors` (its checkpoint named `global`, whatever the
/// shipped file was called, so that resume finds it).
fn save_global(edge: &Edge, dir: &Path) -> Result<PathBuf> {
    let g = super::coevolve::copy_model(edge.global(), "global")?;
    Ok(checkpoint::save(&g, dir, &TrainState::default())?)
}

fn round_dir(out: &Path, w: usize) -> PathBuf {
    out.join("rounds").join(format!("w{w}"))
}

pub fn run(o: &RunOptions) -> Result<Summary> {
    run_with(o, None)
}

/// `run` with the global model's labeller built by `factory` (default: LibTorch).
pub fn run_with(o: &RunOptions, factory: Option<LabellerFactory>) -> Result<Summary> {
    let e = &o.exp;
    let t0 = std::time::Instant::now();
    std::fs::create_dir_all(o.out.join("final"))
        .map_err(|x| EvolveError::BadInput(format!("creating {}: {x}", o.out.display())))?;
    let sources = terminal_sources(e)?;
    if o.resume {
        check_resumable(e, &o.out)?;
    }
    write_atomic(&o.out.join("experiment.toml"), &e.to_toml())?;
    let mut edge = match factory {
        Some(f) => Edge::with_labeller(e, o.method, o.device, &o.out, f)?,
        None => Edge::new(e, o.method, o.device, &o.out)?,
    };
    let state_path = o.out.join("state.json");
    let mut state = State {
        windows_done: 0,
        global_version: 0,
        records: Vec::new(),
        seconds: 0.0,
    };
    if o.resume && state_path.is_file() {
        let text = std::fs::read_to_string(&state_path)
            .map_err(|x| EvolveError::BadInput(format!("reading {}: {x}", state_path.display())))?;
        state = serde_json::from_str(&text)
            .map_err(|x| EvolveError::BadInput(format!("{}: {x}", state_path.display())))?;
    }
    if state.windows_done > 0 {
        let dir = round_dir(&o.out, state.windows_done - 1);
        for t in &e.terminals {
            edge.set_terminal_model(&t.id, &dir.join(format!("{}.safetensors", t.id)))?;
            let last = state
                .records
                .iter()
                .rev()
                .find(|r| r.terminal == t.id)
                .map(|r| r.delta);
            edge.set_terminal_delta(&t.id, last)?;
        }
        if state.global_version > 0 {
            edge.set_global(&dir.join("global.safetensors"), state.global_version)?;
        }
        for t in &e.terminals {
            let p = dir.join(format!("mid-{}.safetensors", t.id));
            if e.mutual.persist && p.is_file() {
                edge.set_intermediate(&t.id, &p)?;
            }
        }
        // The memories are the earlier uploads, drawn again as they were.
        if e.distill.memory > 0 {
            for r in &state.records {
                let k = e
                    .terminals
                    .iter()
                    .position(|t| t.id == r.terminal)
                    .ok_or_else(|| {
                        EvolveError::BadInput(format!(
                            "{}: a record of terminal `{}`, which the experiment does not have",
                            state_path.display(),
                            r.terminal
                        ))
                    })?;
                let frames = upload_frames(e, k, &sources[k], r.window, r.uploaded)?;
                edge.remember(&r.terminal, &frames)?;
            }
        }
    }
    let starts: Vec<Detector> = e
        .terminals
        .iter()
        .map(|t| load_model(Path::new(&t.model), o.device))
        .collect::<Result<_>>()?;
    let block_s = e.protocol.block_s;
    let resumed_s = state.seconds;
    let bar = if o.progress {
        indicatif::ProgressBar::new(e.windows.count as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_position(state.windows_done as u64);
    for w in state.windows_done..e.windows.count {
        bar.set_message(format!("window {w}"));
        let plan = edge.upload_plan();
        let mut ups = Vec::new();
        for (k, t) in e.terminals.iter().enumerate() {
            let n = plan
                .iter()
                .find(|(id, _)| id == &t.id)
                .map(|p| p.1)
                .unwrap_or(0);
            ups.push(TerminalUpload {
                terminal: t.id.clone(),
                frames: upload_frames(e, k, &sources[k], w, n)?,
            });
        }
        let bytes_up: Vec<u64> = ups
            .iter()
            .map(|u| u.frames.iter().map(|f| f.rgb.len() as u64).sum())
            .collect();
        // Score the old models on segment w + 1 before the window changes them.
        let mut scoring = Vec::new();
        for (k, (t, src)) in e.terminals.iter().zip(&sources).enumerate() {
            let (frames, times) = scoring_frames(e, k, src, w as u64 + 1, e.windows.eval_frames)?;
            let gt = ground_truth(&frames);
            let old = predict(edge.terminal_model(&t.id)?, &frames, 64)?;
            let g_old = predict(edge.global(), &frames, 64)?;
            let start = evaluate(&gt, &predict(&starts[k], &frames, 64)?).map50;
            scoring.push((frames, times, gt, old, g_old, start));
        }
        let outcome = edge.window(w, ups)?;
        let mut records = Vec::new();
        for (k, t) in e.terminals.iter().enumerate() {
            let (frames, times_in, gt, d_old, g_old, start) = &scoring[k];
            let blocks = blocks_of(times_in, block_s);
            let oc = outcome
                .terminals
                .iter()
                .find(|x| x.terminal == t.id)
                .expect("every terminal uploaded");
            let model = edge.terminal_model(&t.id)?;
            let d_new = predict(model, frames, 64)?;
            let g_new = if outcome.global_updated {
                predict(edge.global(), frames, 64)?
            } else {
                g_old.clone()
            };
            let times = EvolvingTime {
                t_c: transfer_s(
                    bytes_up[k],
                    model.params() as u64 * 4,
                    e.link.bandwidth_mbps,
                    e.link.latency_ms,
                ),
                t_w: oc.t_w,
                t_r: oc.t_r,
            };
            let ci = |d: &[Detection]| {
                let r = evaluate_with_block_ci(gt, d, &blocks);
                (r.map50, r.ci95.expect("asked for").map50)
            };
            let (before, after) = (ci(d_old), ci(&d_new));
            let cut = served_by_old(times_in, times.total()) as u64;
            let deployed: Vec<Detection> = d_old
                .iter()
                .filter(|d| d.image_id < cut)
                .chain(d_new.iter().filter(|d| d.image_id >= cut))
                .cloned()
                .collect();
            records.push(WindowRecord {
                window: w,
                terminal: t.id.clone(),
                stream: t.stream.clone(),
                uploaded: oc.uploaded,
                pseudo_boxes: oc.pseudo_boxes,
                delta: oc.delta,
                delta_global: outcome.delta_global,
                decision: outcome.decision,
                action: oc.action.clone(),
                map50_before: before.0,
                map50_before_lo: before.1.lo,
                map50_before_hi: before.1.hi,
                map50_after: after.0,
                map50_after_lo: after.1.lo,
                map50_after_hi: after.1.hi,
                map50_deployed: evaluate(gt, &deployed).map50,
                map50_start: *start,
                pseudo_precision: oc.pseudo_precision,
                pseudo_recall: oc.pseudo_recall,
                mid_distance_start: oc.mid_distance_start,
                mid_distance: oc.mid_distance,
                mid_map50_others: oc.mid_map50_others,
                lcp: lcp(before.0, after.0, times.total(), e.windows.t_total_s),
                global_map50: evaluate(gt, g_old).map50,
                global_map50_after: evaluate(gt, &g_new).map50,
                t_c: times.t_c,
                t_w: times.t_w,
                t_r: times.t_r,
                label_s: oc.label_s,
                first_loss: oc.first_loss,
                last_loss: oc.last_loss,
                gen_loss_first: outcome.generator_loss.map(|l| l.0),
                gen_loss_last: outcome.generator_loss.map(|l| l.1),
                gen_accuracy: (!outcome.generator_accuracy.is_empty()).then(|| {
                    outcome.generator_accuracy.iter().sum::<f64>()
                        / outcome.generator_accuracy.len() as f64
                }),
                gen_latent_norm: outcome.generator_latent_norm,
                sample_ce_first: oc.sample_ce.map(|l| l.0),
                sample_ce_last: oc.sample_ce.map(|l| l.1),
                feature_first: oc.feature_term.map(|l| l.0),
                feature_last: oc.feature_term.map(|l| l.1),
                mid_latent_norm: oc.mid_latent_norm,
                terminal_ce_first: oc.terminal_ce.map(|l| l.0),
                terminal_ce_last: oc.terminal_ce.map(|l| l.1),
                projection_r2: oc.projection_r2,
            });
        }
        let dir = round_dir(&o.out, w);
        for t in &e.terminals {
            checkpoint::save(
                edge.terminal_model(&t.id)?,
                &dir,
                &TrainState {
                    model: t.id.clone(),
                    ..Default::default()
                },
            )?;
        }
        save_global(&edge, &dir)?;
        for t in &e.terminals {
            if let Some(m) = edge.intermediate(&t.id)? {
                let m = super::coevolve::copy_model(m, &format!("mid-{}", t.id))?;
                checkpoint::save(&m, &dir, &TrainState::default())?;
            }
        }
        // The scheduler's replay of the window: where its t_w and t_r came from.
        if let Some(sch) = &outcome.schedule {
            write_atomic(&dir.join("schedule.json"), &json(sch))?;
        }
        state.records.extend(records);
        state.windows_done = w + 1;
        state.global_version = edge.global_version;
        state.seconds = resumed_s + t0.elapsed().as_secs_f64();
        write_tables(&o.out, &state.records)?;
        write_atomic(&state_path, &json(&state))?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let summary = summarise(
        o,
        &edge,
        &starts,
        &sources,
        &state,
        resumed_s + t0.elapsed().as_secs_f64(),
    )?;
    write_atomic(&o.out.join("summary.json"), &json(&summary))?;
    Ok(summary)
}

/// The window records of a run folder (finished or not), as `run` keeps them in `state.json`.
pub fn read_records(out: &Path) -> Result<Vec<WindowRecord>> {
    let path = out.join("state.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| EvolveError::Fault(format!("{}: cannot read: {e}", path.display())))?;
    let state: State = serde_json::from_str(&text)
        .map_err(|e| EvolveError::Fault(format!("{}: not a run's state: {e}", path.display())))?;
    Ok(state.records)
}

/// Ground truth and detections of one terminal's frames.
type OwnedSet = (Vec<(u64, Vec<GtBox>)>, Vec<Detection>);

/// The post-run scores and the final models.
fn summarise(
    o: &RunOptions,
    edge: &Edge,
    starts: &[Detector],
    sources: &[FrameSource],
    state: &State,
    seconds: f64,
) -> Result<Summary> {
    let e = &o.exp;
    let final_dir = o.out.join("final");
    let post = e.windows.count as u64 + 1;
    let mut terminals = Vec::new();
    let mut sets: Vec<OwnedSet> = Vec::new();
    let mut start_sets: Vec<OwnedSet> = Vec::new();
    let mut blocks: Vec<Vec<usize>> = Vec::new();
    let mut joint_blocks: Vec<usize> = Vec::new();
    let mut g_sets: [Vec<OwnedSet>; 2] = Default::default();
    let mut joint_frames: Vec<Frame> = Vec::new();
    for (k, t) in e.terminals.iter().enumerate() {
        let model = edge.terminal_model(&t.id)?;
        let p = checkpoint::save(model, &final_dir, &TrainState::default())?;
        let _ = std::fs::remove_file(final_dir.join(format!("{}.state.json", t.id)));
        let (frames, times) = scoring_frames(e, k, &sources[k], post, e.windows.eval_frames)?;
        let gt = ground_truth(&frames);
        let b = blocks_of(&times, e.protocol.block_s);
        let d = predict(model, &frames, 64)?;
        let r = evaluate_with_block_ci(&gt, &d, &b);
        let ci = r.ci95.expect("asked for").map50;
        let d0 = predict(&starts[k], &frames, 64)?;
        let r0 = evaluate_with_block_ci(&gt, &d0, &b);
        let ci0 = r0.ci95.expect("asked for").map50;
        // Blocks of the joint frames: each terminal's own, numbered apart.
        let base_block = joint_blocks.iter().max().map_or(0, |m| m + 1);
        joint_blocks.extend(b.iter().map(|x| x + base_block));
        let rs: Vec<&WindowRecord> = state
            .records
            .iter()
            .filter(|r| r.terminal == t.id)
            .collect();
        let mean = |f: &dyn Fn(&WindowRecord) -> f64| {
            rs.iter().map(|r| f(r)).sum::<f64>() / rs.len().max(1) as f64
        };
        terminals.push(TerminalSummary {
            id: t.id.clone(),
            stream: t.stream.clone(),
            model: t.model.clone(),
            final_model: p.display().to_string(),
            mean_map50_before: mean(&|r| r.map50_before),
            mean_map50_after: mean(&|r| r.map50_after),
            mean_lcp: mean(&|r| r.lcp),
            final_map50: r.map50,
            final_map50_lo: ci.lo,
            final_map50_hi: ci.hi,
            start_map50: r0.map50,
            start_map50_lo: ci0.lo,
            start_map50_hi: ci0.hi,
        });
        for (i, g) in [edge.original_global(), edge.global()]
            .into_iter()
            .enumerate()
        {
            g_sets[i].push((gt.clone(), predict(g, &frames, 64)?));
        }
        start_sets.push((gt.clone(), d0));
        sets.push((gt, d));
        blocks.push(b);
        let base = joint_frames.len() as u64;
        joint_frames.extend(frames.into_iter().map(|mut f| {
            f.index += base;
            f
        }));
    }
    let refs: Vec<ScoredSet> = sets
        .iter()
        .map(|(g, d)| (g.as_slice(), d.as_slice()))
        .collect();
    let (tmean, tci) = mean_map50_with_block_ci(&refs, &blocks);
    let srefs: Vec<ScoredSet> = start_sets
        .iter()
        .map(|(g, d)| (g.as_slice(), d.as_slice()))
        .collect();
    let (smean, sci) = mean_map50_with_block_ci(&srefs, &blocks);
    let g_mean = |k: usize| {
        let r: Vec<ScoredSet> = g_sets[k]
            .iter()
            .map(|(g, d)| (g.as_slice(), d.as_slice()))
            .collect();
        mean_map50_with_block_ci(&r, &blocks)
    };
    let ((gmb, gmbi), (gma, gmai)) = (g_mean(0), g_mean(1));
    let gt = ground_truth(&joint_frames);
    let score = |m: &Detector| -> Result<(f64, nestevo_eval::Interval)> {
        let r = evaluate_with_block_ci(&gt, &predict(m, &joint_frames, 64)?, &joint_blocks);
        Ok((r.map50, r.ci95.expect("asked for").map50))
    };
    let (gb, gbi) = score(edge.original_global())?;
    let (ga, gai) = score(edge.global())?;
    let gp = save_global(edge, &final_dir)?;
    let _ = std::fs::remove_file(final_dir.join("global.state.json"));
    let all = |f: &dyn Fn(&WindowRecord) -> f64| {
        state.records.iter().map(f).sum::<f64>() / state.records.len().max(1) as f64
    };
    Ok(Summary {
        experiment: e.name.clone(),
        method: o.method,
        windows: e.windows.count,
        terminals,
        mean_map50_before: all(&|r| r.map50_before),
        mean_map50_after: all(&|r| r.map50_after),
        mean_lcp: all(&|r| r.lcp),
        final_terminal_map50: tmean,
        final_terminal_map50_lo: tci.lo,
        final_terminal_map50_hi: tci.hi,
        start_terminal_map50: smean,
        start_terminal_map50_lo: sci.lo,
        start_terminal_map50_hi: sci.hi,
        global_map50_before: gb,
        global_map50_before_lo: gbi.lo,
        global_map50_before_hi: gbi.hi,
        global_map50_after: ga,
        global_map50_after_lo: gai.lo,
        global_map50_after_hi: gai.hi,
        global_mean_map50_before: gmb,
        global_mean_map50_before_lo: gmbi.lo,
        global_mean_map50_before_hi: gmbi.hi,
        global_mean_map50_after: gma,
        global_mean_map50_after_lo: gmai.lo,
        global_mean_map50_after_hi: gmai.hi,
        global_evolutions: state.global_version,
        final_global: gp.display().to_string(),
        labeller: edge.labeller().describe(),
        label_energy_j: edge.label_energy_j,
        program_energy_j: edge.program_energy_j,
        seconds,
    })
}

fn load_model(path: &Path, device: tch::Device) -> Result<Detector> {
    Ok(checkpoint::load(path, device)?.0)
}

fn write_tables(out: &Path, records: &[WindowRecord]) -> Result<()> {
    write_atomic(&out.join("windows.json"), &json(&records))?;
    let mut csv = String::from(
        "window,terminal,stream,uploaded,pseudo_boxes,delta,delta_global,decision,action,\
         map50_before,map50_before_lo,map50_before_hi,map50_after,map50_after_lo,map50_after_hi,\
         map50_deployed,lcp,global_map50,global_map50_after,t_c,t_w,t_r,label_s,map50_start,\
         pseudo_precision,pseudo_recall,mid_distance_start,mid_distance,mid_map50_others,\
         gen_loss_first,gen_loss_last,gen_accuracy,gen_latent_norm,sample_ce_first,\
         sample_ce_last,feature_first,feature_last,mid_latent_norm,terminal_ce_first,\
         terminal_ce_last,projection_r2\n",
    );
    for r in records {
        csv.push_str(&format!(
            "{},{},{},{},{},{:.4},{},{},{},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.3},{:.3},{:.3},{:.3},{:.4},{},{},{},{},{},{}\n",
            r.window,
            r.terminal,
            r.stream,
            r.uploaded,
            r.pseudo_boxes,
            r.delta,
            r.delta_global,
            match r.decision {
                Decision::DistillOnly => "distill-only",
                Decision::CoEvolve => "co-evolve",
            },
            r.action,
            r.map50_before,
            r.map50_before_lo,
            r.map50_before_hi,
            r.map50_after,
            r.map50_after_lo,
            r.map50_after_hi,
            r.map50_deployed,
            r.lcp,
            r.global_map50,
            r.global_map50_after,
            r.t_c,
            r.t_w,
            r.t_r,
            r.label_s,
            r.map50_start,
            r.pseudo_precision.map_or(String::new(), |v| format!("{v:.4}")),
            r.pseudo_recall.map_or(String::new(), |v| format!("{v:.4}")),
            r.mid_distance_start.map_or(String::new(), |v| format!("{v:.5}")),
            r.mid_distance.map_or(String::new(), |v| format!("{v:.5}")),
            r.mid_map50_others.map_or(String::new(), |v| format!("{v:.4}")),
            [
                r.gen_loss_first,
                r.gen_loss_last,
                r.gen_accuracy,
                r.gen_latent_norm,
                r.sample_ce_first,
                r.sample_ce_last,
                r.feature_first,
                r.feature_last,
                r.mid_latent_norm,
                r.terminal_ce_first,
                r.terminal_ce_last,
                r.projection_r2,
            ]
            .map(|v| v.map_or(String::new(), |v| format!("{v:.5}")))
            .join(",")
        ));
    }
    write_atomic(&out.join("windows.csv"), &csv)
}
