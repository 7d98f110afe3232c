//! Measuring adaptive compression (Fig. 13, Table 5, Fig. 14) on a distillation job set: each
//! terminal of an experiment distils its deployed model from the global model on its first
//! window's upload (the frames `evolve run` uploads in window 0, an even split of D_max), with
//! the experiment's distillation steps and learning rate, at each batch size, without and
//! with compression (`compress`, threshold `compress.small_px`).
//!
//! Per run: the training time (wall and CPU, s), the measured memory (the resident-set growth
//! over the job, as `sched profile-one` measures it: the caller runs each case in its own
//! process with `MALLOC_MMAP_THRESHOLD_=65536`), the memory model's figure (pooled frames
//! counted at a quarter of a whole frame's activations, by the pooled share of the upload),
//! and the distilled model's mAP@0.5 with its 95 % bootstrap interval on the post-run segment
//! (`windows.count + 1`, `eval_frames` frames: no training saw them), as `evolve run` scores
//! its final models. Nothing here is tuned on those frames.

use nestevo_couple::label::{LabelRequest, Labeller};
use nestevo_eval::{evaluate_with_ci, ground_truth};
use nestevo_evolve::compress::{compress, CompressSpec};
use nestevo_evolve::config::Experiment;
use nestevo_evolve::distill::{distill, DistillConfig};
use nestevo_evolve::error::{EvolveError, Result};
use nestevo_evolve::jobs::{end_measure, start_measure};
use nestevo_evolve::labeller::TorchLabeller;
use nestevo_evolve::run::{scoring_frames, terminal_sources, upload_frames, uploads};
use nestevo_sched::{MemoryModel, Work};
use nestevo_train::checkpoint;
use nestevo_train::evaluate::predict;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One measured run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchRow {
    /// `distill`, or `mutual` (the terminal and a copy of the global model learning mutually).
    #[serde(default = "distill_kind")]
    pub kind: String,
    pub terminal: String,
    pub stream: String,
    pub batch: usize,
    pub compress: bool,
    pub frames: usize,
    pub pooled: usize,
    pub steps: usize,
    pub seconds: f64,
    pub cpu_seconds: f64,
    /// Measured resident-set growth over the job (MB).
    pub peak_mb: f64,
    /// The memory model's figure (MB).
    pub model_mb: f64,
    pub map50: f64,
    pub map50_lo: f64,
    pub map50_hi: f64,
    pub eval_frames: usize,
}

fn distill_kind() -> String {
    "distill".into()
}

impl BenchRow {
    /// The id of the case (resume skips done ones).
    pub fn id(&self) -> String {
        case_id(&self.terminal, self.batch, self.compress)
    }
}

pub fn case_id(terminal: &str, batch: usize, compress: bool) -> String {
    format!(
        "{terminal}-b{batch}-{}",
        if compress { "on" } else { "off" }
    )
}

/// Runs terminal `k`'s distillation (or, `mutual`, its mutual learning with an intermediate
/// copied from the global model: the experiment's `[mutual]` steps, lr, alpha, beta, mu and
/// labels, no generator) at `batch`, with compression or without.
pub fn run_one(
    e: &Experiment,
    k: usize,
    batch: usize,
    on: bool,
    mutual: bool,
    device: tch::Device,
) -> Result<BenchRow> {
    if k >= e.terminals.len() || batch == 0 {
        return Err(EvolveError::BadInput(format!(
            "compression run: terminal {k} of {}, batch {batch}: needs a terminal of the \
             experiment and a batch of 1 or more",
            e.terminals.len()
        )));
    }
    let t = &e.terminals[k];
    let n = uploads(e, None)[k];
    let sources = terminal_sources(e)?;
    let frames = upload_frames(e, k, &sources[k], 0, n)?;
    let (teacher, _) = checkpoint::load(Path::new(&e.global.model), device)?;
    let req = LabelRequest {
        min_score: e.global.min_score as f32,
        feature_layer: None,
    };
    let labels = TorchLabeller::new(&teacher).label(&frames, &req)?;
    let teacher = mutual.then_some(teacher);
    let spec = CompressSpec {
        enabled: on,
        ..e.compress.clone()
    };
    let (fs, ls, c) = compress(&spec, &frames, &labels);
    let (eval, _) = scoring_frames(
        e,
        k,
        &sources[k],
        e.windows.count as u64 + 1,
        e.windows.eval_frames,
    )?;
    let gt = ground_truth(&eval);
    let before = start_measure();
    let (mut student, _) = checkpoint::load(Path::new(&t.model), device)?;
    let seed = nestevo_evolve::edge::seed_of(e.seed, 0, k, if mutual { 4 } else { 2 });
    let context = format!("compression run, terminal {}", t.id);
    let t0 = std::time::Instant::now();
    let (steps, descs) = match &teacher {
        None => {
            let cfg = DistillConfig {
                steps: e.distill.steps,
                batch,
                lr: e.distill.lr,
                peak_thresholds: e.pseudo_thresholds(),
                soft: e.distill.soft,
                augment: e.distill.augment,
                seed,
                context,
            };
            distill(&mut student, &fs, &ls, &cfg)?;
            (e.distill.steps, vec![student.desc.clone()])
        }
        Some(g) => {
            let mut mid = nestevo_evolve::coevolve::copy_model(g, "mid")?;
            let m = &e.mutual;
            let cfg = nestevo_evolve::coevolve::PairConfig {
                steps: m.steps,
                batch,
                lr: m.lr,
                alpha: m.alpha,
                beta: m.beta,
                mu: m.mu,
                samples: 0,
                feature: 0.0,
                terminal: 0.0,
                replay: 0,
                labels: m.labels,
                freeze_mid_bn: m.freeze_bn,
                peak_thresholds: e.pseudo_thresholds(),
                seed,
                context,
            };
            nestevo_evolve::coevolve::train_pair(&mut student, &mut mid, &fs, &ls, None, &cfg)?;
            (m.steps, vec![student.desc.clone(), mid.desc.clone()])
        }
    };
    let m = end_measure(before, t0);
    let refs: Vec<&nestevo_model::ModelDesc> = descs.iter().collect();
    let mut wk = Work::of_descs(&refs, n as f64, steps as f64, batch as f64)
        .map_err(|x| EvolveError::BadInput(format!("memory model: {x}")))?;
    let share = c.whole_share();
    wk.act_per_frame *= share + (1.0 - share) / 4.0;
    let model_mb = MemoryModel {
        workspace_mb: e.sched.workspace_mb,
        ..Default::default()
    }
    .estimate(&wk)
    .total_mb;
    let r = evaluate_with_ci(&gt, &predict(&student, &eval, 64)?);
    let ci = r.ci95.expect("asked for").map50;
    Ok(BenchRow {
        kind: if mutual { "mutual" } else { "distill" }.into(),
        terminal: t.id.clone(),
        stream: t.stream.clone(),
        batch,
        compress: on,
        frames: n,
        pooled: c.pooled,
        steps,
        seconds: m.seconds,
        cpu_seconds: m.cpu_seconds,
        peak_mb: m.peak_mb,
        model_mb,
        map50: r.map50,
        map50_lo: ci.lo,
        map50_hi: ci.hi,
        eval_frames: eval.len(),
    })
}

/// The table: per terminal and batch, without -> with compression, and the change.
pub fn table(rows: &[BenchRow]) -> String {
    let mut s = String::from(
        "| terminal | batch | pooled frames | measured memory (MB) off -> on | change | \
         modelled memory (MB) off -> on | change | CPU time (s) off -> on | change | \
         mAP@0.5 off | mAP@0.5 on |\n|---|---:|---:|---|---:|---|---:|---|---:|---|---|\n",
    );
    let pct = |a: f64, b: f64| 100.0 * (b - a) / a.max(1e-12);
    for off in rows.iter().filter(|r| !r.compress) {
        let Some(on) = rows
            .iter()
            .find(|r| r.compress && r.terminal == off.terminal && r.batch == off.batch)
        else {
            continue;
        };
        s += &format!(
            "| {} ({}) | {} | {}/{} | {:.1} -> {:.1} | {:+.1} % | {:.1} -> {:.1} | {:+.1} % | \
             {:.2} -> {:.2} | {:+.1} % | {:.3} [{:.3}, {:.3}] | {:.3} [{:.3}, {:.3}] |\n",
            off.terminal,
            off.stream,
            off.batch,
            on.pooled,
            on.frames,
            off.peak_mb,
            on.peak_mb,
            pct(off.peak_mb, on.peak_mb),
            off.model_mb,
            on.model_mb,
            pct(off.model_mb, on.model_mb),
            off.cpu_seconds,
            on.cpu_seconds,
            pct(off.cpu_seconds, on.cpu_seconds),
            off.map50,
            off.map50_lo,
            off.map50_hi,
            on.map50,
            on.map50_lo,
            on.map50_hi,
        );
    }
    s
}

/// `memory.png` (measured and modelled memory against the batch) and `time.png` (CPU time),
/// one line per terminal and setting.
pub fn plots(rows: &[BenchRow], dir: &Path) -> Result<()> {
    let mut terms: Vec<String> = Vec::new();
    for r in rows {
        if !terms.contains(&r.terminal) {
            terms.push(r.terminal.clone());
        }
    }
    let series = |f: &dyn Fn(&BenchRow) -> f64, what: &str| {
        let mut out = Vec::new();
        for t in &terms {
            for on in [false, true] {
                let mut pts: Vec<(f64, f64)> = rows
                    .iter()
                    .filter(|r| &r.terminal == t && r.compress == on)
                    .map(|r| (r.batch as f64, f(r)))
                    .collect();
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                let name = format!("{t} {what}{}", if on { ", compressed" } else { "" });
                out.push((name, pts));
            }
        }
        out
    };
    let mut mem = series(&|r| r.peak_mb, "measured");
    mem.extend(series(&|r| r.model_mb, "model"));
    crate::evolve_plot::lines(
        &dir.join("memory.png"),
        "Training memory with and without adaptive compression",
        "batch size",
        "memory (MB)",
        &mem,
    )?;
    crate::evolve_plot::lines(
        &dir.join("time.png"),
        "Training CPU time with and without adaptive compression",
        "batch size",
        "CPU time (s)",
        &series(&|r| r.cpu_seconds, "CPU time"),
    )
}

/// The benchmark's grid as a harness: every (batch, terminal, compression off/on) case not yet
/// in `out/rows.jsonl` runs as its own `exe evolve compress-one` process (so that each
/// resident-set peak is its own) and is appended there (resumable); then `table.md`,
/// `rows.json` and the plots. `experiment` are the flags that name the experiment to the child
/// (`--preset P` or `--config F`, then `--set`s).
pub struct Harness<'a> {
    pub exp: &'a Experiment,
    pub experiment: Vec<String>,
    pub batches: &'a [usize],
    /// `mutual` for the mutual-learning jobs, otherwise the distillations.
    pub mutual: bool,
    pub threads: i32,
    pub out: &'a Path,
}

/// Runs the harness; returns every row and the markdown table.
pub fn harness(h: &Harness<'_>, exe: &Path) -> crate::Result<(Vec<BenchRow>, String)> {
    use crate::error::ExperimentError;
    use crate::rows::RowsFile;
    if h.batches.is_empty() || h.batches.contains(&0) {
        return Err(ExperimentError::BadInput(format!(
            "--batches {:?}: allowed are batch sizes of 1 or more",
            h.batches
        )));
    }
    if h.threads <= 0 {
        return Err(ExperimentError::BadInput(format!(
            "--threads {}: allowed is 1 or more",
            h.threads
        )));
    }
    std::fs::create_dir_all(h.out)
        .map_err(|e| ExperimentError::Fault(format!("{}: cannot create: {e}", h.out.display())))?;
    let mut rows =
        RowsFile::<BenchRow>::open(&h.out.join("rows.jsonl"), "a row of `evolve compress`")?;
    for &b in h.batches {
        for (k, t) in h.exp.terminals.iter().enumerate() {
            for on in [false, true] {
                let id = case_id(&t.id, b, on);
                if rows.rows().iter().any(|r| r.id() == id) {
                    continue;
                }
                eprintln!("run {id}");
                // One process per run, so that each resident-set peak is its own.
                let mut cmd = std::process::Command::new(exe);
                cmd.args(["evolve", "compress-one"])
                    .args(&h.experiment)
                    .args(["--terminal", &k.to_string(), "--batch", &b.to_string()])
                    .args(["--threads", &h.threads.to_string()])
                    .env("MALLOC_MMAP_THRESHOLD_", "65536");
                if on {
                    cmd.arg("--on");
                }
                if h.mutual {
                    cmd.arg("--mutual");
                }
                let out = cmd.output().map_err(|e| {
                    ExperimentError::Fault(format!("{}: cannot run: {e}", exe.display()))
                })?;
                if !out.status.success() {
                    return Err(ExperimentError::Fault(format!(
                        "run {id} failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                    )));
                }
                let line = String::from_utf8_lossy(&out.stdout);
                let row: BenchRow = serde_json::from_str(line.trim())
                    .map_err(|e| ExperimentError::Fault(format!("run {id}: not a row: {e}")))?;
                rows.push(row)?;
            }
        }
    }
    let rows = rows.into_rows();
    let md = table(&rows);
    nestevo_core::error::write_atomic(&h.out.join("table.md"), md.as_bytes())?;
    let json = serde_json::to_string_pretty(&rows).expect("rows serialise");
    nestevo_core::error::write_atomic(&h.out.join("rows.json"), json.as_bytes())?;
    plots(&rows, h.out)?;
    Ok((rows, md))
}
