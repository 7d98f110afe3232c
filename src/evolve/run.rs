//! The window loop, distillation only (method `always-kd`): the part of `nestevo evolve run`
//! that is built. Co-evolution (Algorithm 2) and the baselines are not built yet.
//!
//! Time: terminal i's stream is cut into segments of `t_total_s` seconds (N_i = t_total_s x
//! fps frames). Window k: at the end of segment k the terminal uploads d_i frames spread
//! evenly over segment k; the global model labels them (pseudo boxes, soft outputs, and the
//! drift features); delta_i, delta_global and the rule's decision are computed and reported;
//! each terminal is distilled on its own uploads (the jobs run one after another); the new
//! model takes over `t_evolving = t_c + t_w + t_r` into segment k+1, on which
//! `eval_frames` frames spread evenly are scored: the old model, the new model, and the
//! deployed one (old before t_evolving, new after), so every score is on frames later than
//! any frame a model was trained on.
//!
//! Uploads (Eq. 5): window 0 splits D_max evenly; later windows give each terminal
//! `min_upload` plus a share of the rest in proportion to its previous delta_i (more frames
//! where the drift was larger), rounding down, so that the sum stays within D_max.
//! t_c: the uploaded frames as raw RGB up and the new model's float32 parameters down over
//! the link (`lcp::transfer_s`); t_w: labelling plus the training of the jobs queued before
//! it in this window; t_r: its own training, measured wall time.

use super::config::Experiment;
use super::distill::{distill, DistillConfig};
use super::drift::{self, Decision, FeatureStats};
use super::error::{EvolveError, Result};
use super::labeller::{feature_stats, TorchLabeller};
use super::lcp::{lcp, served_by_old, transfer_s, EvolvingTime};
use crate::couple::label::{LabelRequest, Labeller};
use crate::data::{Frame, Stream, StreamId, CLASSES};
use crate::eval::{evaluate, evaluate_with_ci, ground_truth, Detection, Interval};
use crate::train::checkpoint::{self, TrainState};
use crate::train::detector::Detector;
use crate::train::evaluate::predict;
use crate::train::frames::FramePool;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Source frames labelled for the training statistics when none lie beside the checkpoint.
const TRAIN_STATS_FRAMES: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Distillation from the current global model every window.
    AlwaysKd,
}

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
    /// The global model on this terminal's scoring frames.
    pub global_map50: f64,
    pub t_c: f64,
    pub t_w: f64,
    pub t_r: f64,
    pub distill_first_loss: f64,
    pub distill_last_loss: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct State {
    windows_done: usize,
    records: Vec<WindowRecord>,
    seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TerminalSummary {
    pub id: String,
    pub stream: String,
    pub model: String,
    pub final_model: String,
    pub mean_map50_before: f64,
    pub mean_map50_after: f64,
    pub mean_lcp: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub experiment: String,
    pub method: Method,
    pub windows: usize,
    pub terminals: Vec<TerminalSummary>,
    /// Over terminals and windows.
    pub mean_map50_before: f64,
    pub mean_map50_after: f64,
    pub mean_lcp: f64,
    pub seconds: f64,
}

fn write_atomic(path: &Path, text: &str) -> Result<()> {
    Ok(crate::error::write_atomic(path, text.as_bytes())?)
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).expect("serialisable")
}

/// A seed for (run seed, window, terminal, purpose), so that a resumed run draws the same.
fn seed_of(seed: u64, window: usize, terminal: usize, what: u64) -> u64 {
    seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ ((window as u64) << 40)
        ^ ((terminal as u64) << 24)
        ^ what
}

/// Frames per segment of terminal `k`.
fn segment_len(e: &Experiment, k: usize) -> u64 {
    (e.windows.t_total_s * e.stream_of(k).fps()).floor() as u64
}

/// `n` frame indices spread evenly over segment `seg` of length `len`, from `offset`.
fn spread(seg: u64, len: u64, n: usize, offset: u64) -> Vec<u64> {
    (0..n as u64)
        .map(|j| seg * len + (j * len / n.max(1) as u64 + offset) % len)
        .collect()
}

/// Uploads per terminal (Eq. 5): see the module doc.
pub fn uploads(e: &Experiment, previous: Option<&[f64]>) -> Vec<usize> {
    let n = e.terminals.len();
    let d = e.windows.d_max;
    match previous {
        None => vec![d / n; n],
        Some(deltas) => {
            let rest = d - e.windows.min_upload * n;
            let total: f64 = deltas.iter().sum();
            deltas
                .iter()
                .map(|&x| {
                    let share = if total > 0.0 {
                        x / total
                    } else {
                        1.0 / n as f64
                    };
                    e.windows.min_upload + (rest as f64 * share).floor() as usize
                })
                .collect()
        }
    }
}

fn training_stats(global: &Detector, e: &Experiment, out: &Path) -> Result<FeatureStats> {
    let beside = PathBuf::from(&e.global.model).with_extension("drift.json");
    for p in [beside, out.join("global.drift.json")] {
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
    s.save(&out.join("global.drift.json"))?;
    Ok(s)
}

fn load_model(path: &Path, device: tch::Device) -> Result<Detector> {
    Ok(checkpoint::load(path, device)?.0)
}

pub fn run(o: &RunOptions) -> Result<Summary> {
    let e = &o.exp;
    let t0 = std::time::Instant::now();
    std::fs::create_dir_all(o.out.join("final"))
        .map_err(|x| EvolveError::BadInput(format!("creating {}: {x}", o.out.display())))?;
    write_atomic(&o.out.join("experiment.toml"), &e.to_toml())?;
    let global = load_model(Path::new(&e.global.model), o.device)?;
    let train_stats = training_stats(&global, e, &o.out)?;
    let state_path = o.out.join("state.json");
    let mut state = State {
        windows_done: 0,
        records: Vec::new(),
        seconds: 0.0,
    };
    let mut models: Vec<Detector> = Vec::new();
    if o.resume && state_path.is_file() {
        let text = std::fs::read_to_string(&state_path)
            .map_err(|x| EvolveError::BadInput(format!("reading {}: {x}", state_path.display())))?;
        state = serde_json::from_str(&text)
            .map_err(|x| EvolveError::BadInput(format!("{}: {x}", state_path.display())))?;
    }
    for t in &e.terminals {
        let path = if state.windows_done > 0 {
            round_dir(&o.out, state.windows_done - 1).join(format!("{}.safetensors", t.id))
        } else {
            PathBuf::from(&t.model)
        };
        let mut m = load_model(&path, o.device)?;
        if state.windows_done == 0 {
            // Checkpoints of the run are named after the terminal.
            m.desc.name = t.id.clone();
        }
        models.push(m);
    }
    let resumed_s = state.seconds;
    let bar = if o.progress {
        indicatif::ProgressBar::new((e.windows.count * e.terminals.len()) as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_position((state.windows_done * e.terminals.len()) as u64);
    let lab = TorchLabeller::new(&global);
    let req = LabelRequest {
        min_score: e.global.min_score as f32,
        feature_layer: Some(e.drift.layer.clone()),
    };
    for w in state.windows_done..e.windows.count {
        let previous: Option<Vec<f64>> = (w > 0).then(|| {
            state
                .records
                .iter()
                .filter(|r| r.window == w - 1)
                .map(|r| r.delta)
                .collect()
        });
        let ups = uploads(e, previous.as_deref());
        // Upload and label.
        let t_label = std::time::Instant::now();
        let mut uploaded: Vec<(Vec<Frame>, Vec<crate::couple::label::Labelled>)> = Vec::new();
        let mut deltas = Vec::new();
        for (k, t) in e.terminals.iter().enumerate() {
            let st = Stream::new(e.stream_of(k), t.stream_seed);
            let len = segment_len(e, k);
            let offset = seed_of(e.seed, w, k, 1) % (len / ups[k].max(1) as u64).max(1);
            let frames: Vec<Frame> = spread(w as u64, len, ups[k], offset)
                .into_iter()
                .map(|i| st.frame(i))
                .collect();
            let labels = lab.label(&frames, &req)?;
            let stats = feature_stats(&labels, CLASSES.len())?;
            deltas.push(drift::delta(&train_stats, &stats)?.delta);
            uploaded.push((frames, labels));
        }
        let label_s = t_label.elapsed().as_secs_f64();
        let dg = drift::delta_global(&deltas, e.drift.gamma);
        let decision = drift::decide(dg, e.drift.epsilon);
        let mut queue_s = label_s;
        let mut records = Vec::new();
        for (k, t) in e.terminals.iter().enumerate() {
            let (frames, labels) = &uploaded[k];
            let context = format!("window {w}, terminal {}", t.id);
            let mut new = copy_model(&models[k])?;
            let rep = distill(
                &mut new,
                frames,
                labels,
                &DistillConfig {
                    steps: e.distill.steps,
                    batch: e.distill.batch,
                    lr: e.distill.lr,
                    seed: seed_of(e.seed, w, k, 2),
                    context,
                },
            )?;
            let t_w = queue_s;
            queue_s += rep.seconds;
            let bytes_up = frames.iter().map(|f| f.rgb.len() as u64).sum();
            let bytes_down = new.params() as u64 * 4;
            let times = EvolvingTime {
                t_c: transfer_s(
                    bytes_up,
                    bytes_down,
                    e.link.bandwidth_mbps,
                    e.link.latency_ms,
                ),
                t_w,
                t_r: rep.seconds,
            };
            // Score on segment w + 1.
            let st = Stream::new(e.stream_of(k), t.stream_seed);
            let len = segment_len(e, k);
            let mut eval: Vec<Frame> = spread(w as u64 + 1, len, e.windows.eval_frames, 0)
                .into_iter()
                .map(|i| st.frame(i))
                .collect();
            let start = st.time_s((w as u64 + 1) * len);
            let times_in: Vec<f64> = eval.iter().map(|f| f.time_s - start).collect();
            for (j, f) in eval.iter_mut().enumerate() {
                f.index = j as u64;
            }
            let gt = ground_truth(&eval);
            let ci = |m: &Detector| -> Result<((f64, Interval), Vec<Detection>)> {
                let d = predict(m, &eval, 64)?;
                let r = evaluate_with_ci(&gt, &d);
                Ok(((r.map50, r.ci95.expect("asked for").map50), d))
            };
            let (before, d_old) = ci(&models[k])?;
            let (after, d_new) = ci(&new)?;
            let (g, _) = ci(&global)?;
            let cut = served_by_old(&times_in, times.total()) as u64;
            let deployed: Vec<_> = d_old
                .into_iter()
                .filter(|d| d.image_id < cut)
                .chain(d_new.into_iter().filter(|d| d.image_id >= cut))
                .collect();
            let dep = evaluate(&gt, &deployed).map50;
            records.push(WindowRecord {
                window: w,
                terminal: t.id.clone(),
                stream: t.stream.clone(),
                uploaded: frames.len(),
                pseudo_boxes: labels.iter().map(|l| l.boxes.len()).sum(),
                delta: deltas[k],
                delta_global: dg,
                decision,
                action: "distill".into(),
                map50_before: before.0,
                map50_before_lo: before.1.lo,
                map50_before_hi: before.1.hi,
                map50_after: after.0,
                map50_after_lo: after.1.lo,
                map50_after_hi: after.1.hi,
                map50_deployed: dep,
                lcp: lcp(before.0, after.0, times.total(), e.windows.t_total_s),
                global_map50: g.0,
                t_c: times.t_c,
                t_w: times.t_w,
                t_r: times.t_r,
                distill_first_loss: rep.first_loss,
                distill_last_loss: rep.last_loss,
            });
            let dir = round_dir(&o.out, w);
            checkpoint::save(
                &new,
                &dir,
                &TrainState {
                    model: t.id.clone(),
                    step: e.distill.steps,
                    total_steps: e.distill.steps,
                    seed: seed_of(e.seed, w, k, 2),
                    last_loss: rep.last_loss,
                    seconds: rep.seconds,
                },
            )?;
            models[k] = new;
            bar.inc(1);
        }
        state.records.extend(records);
        state.windows_done = w + 1;
        state.seconds = resumed_s + t0.elapsed().as_secs_f64();
        write_tables(&o.out, &state.records)?;
        write_atomic(&state_path, &json(&state))?;
    }
    bar.finish_and_clear();
    let mut terminals = Vec::new();
    for (k, t) in e.terminals.iter().enumerate() {
        let final_dir = o.out.join("final");
        let p = checkpoint::save(&models[k], &final_dir, &TrainState::default())?;
        let _ = std::fs::remove_file(final_dir.join(format!("{}.state.json", t.id)));
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
        });
    }
    let all = |f: &dyn Fn(&WindowRecord) -> f64| {
        state.records.iter().map(f).sum::<f64>() / state.records.len().max(1) as f64
    };
    let summary = Summary {
        experiment: e.name.clone(),
        method: o.method,
        windows: e.windows.count,
        terminals,
        mean_map50_before: all(&|r| r.map50_before),
        mean_map50_after: all(&|r| r.map50_after),
        mean_lcp: all(&|r| r.lcp),
        seconds: t0.elapsed().as_secs_f64(),
    };
    write_atomic(&o.out.join("summary.json"), &json(&summary))?;
    Ok(summary)
}

fn round_dir(out: &Path, w: usize) -> PathBuf {
    out.join("rounds").join(format!("w{w}"))
}

/// A fresh detector with `m`'s description and values.
fn copy_model(m: &Detector) -> Result<Detector> {
    let c = Detector::new(&m.desc, m.classes, m.vs.device())?;
    let src = m.vs.variables();
    let _g = tch::no_grad_guard();
    for (k, v) in c.vs.variables() {
        let mut v = v.shallow_clone();
        v.copy_(&src[&k]);
    }
    Ok(c)
}

fn write_tables(out: &Path, records: &[WindowRecord]) -> Result<()> {
    write_atomic(&out.join("windows.json"), &json(&records))?;
    let mut csv = String::from(
        "window,terminal,stream,uploaded,pseudo_boxes,delta,delta_global,decision,action,\
         map50_before,map50_before_lo,map50_before_hi,map50_after,map50_after_lo,map50_after_hi,\
         map50_deployed,lcp,global_map50,t_c,t_w,t_r\n",
    );
    for r in records {
        csv.push_str(&format!(
            "{},{},{},{},{},{:.4},{},{},{},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.3},{:.3},{:.3}\n",
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
            r.t_c,
            r.t_w,
            r.t_r
        ));
    }
    write_atomic(&out.join("windows.csv"), &csv)
}
