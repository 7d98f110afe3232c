//! Per-class pseudo-box thresholds, chosen on an experiment's tuning seeds.
//!
//! The frames are those the loop would upload on tuning replicate 0 (`Experiment::replicate(0,
//! true)`): every terminal's upload of every window (`run::upload_frames`), labelled by the
//! shipped global model as the edge labels them (with `global.adapt_bn`, a copy whose
//! batch-norm statistics are re-estimated on that upload). Each detection down to the lowest
//! threshold of the grid is matched as `edge::pseudo_quality` matches (`edge::match_boxes`: greedily, best first, same
//! class, IoU >= 0.5). Best first, a box's outcome does not depend on any box below it, so one
//! pass serves every threshold.
//!
//! Per class and threshold t: precision, recall and F1 of the boxes at or above t, pooled over
//! terminals and windows; each class takes the t of highest F1 (the higher t on a tie). Only
//! tuning streams' ground truth is read: no frame a comparison scores on.

use nestevo_couple::label::{LabelRequest, Labelled, Labeller};
use nestevo_data::{Frame, CLASSES};
use nestevo_evolve::coevolve::copy_model;
use nestevo_evolve::config::Experiment;
use nestevo_evolve::edge::{match_boxes, reestimate_bn_on};
use nestevo_evolve::error::{EvolveError, Result};
use nestevo_evolve::labeller::TorchLabeller;
use nestevo_evolve::run::{terminal_sources, upload_frames, uploads};
use nestevo_train::checkpoint;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One detection: its class, its score and whether it matched a ground-truth box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub class: usize,
    pub score: f32,
    pub hit: bool,
}

/// Precision, recall and F1 (0 where undefined).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prf {
    pub boxes: usize,
    pub hits: usize,
    pub truths: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl Prf {
    fn of(boxes: usize, hits: usize, truths: usize) -> Prf {
        let p = if boxes > 0 {
            hits as f64 / boxes as f64
        } else {
            0.0
        };
        let r = if truths > 0 {
            hits as f64 / truths as f64
        } else {
            0.0
        };
        let f1 = if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        };
        Prf {
            boxes,
            hits,
            truths,
            precision: p,
            recall: r,
            f1,
        }
    }
}

/// The candidates of `labels` (best first) on `frames` (their ground truth, `match_boxes`) and
/// the ground-truth boxes per class.
pub fn candidates(frames: &[Frame], labels: &[Labelled]) -> (Vec<Candidate>, Vec<usize>) {
    let mut truths = vec![0usize; CLASSES.len()];
    let mut out = Vec::new();
    for (f, l) in frames.iter().zip(labels) {
        for g in &f.boxes {
            if let Some(t) = truths.get_mut(g.class) {
                *t += 1;
            }
        }
        let hits = match_boxes(f, &l.boxes);
        out.extend(l.boxes.iter().zip(hits).map(|(b, hit)| Candidate {
            class: b.class,
            score: b.score,
            hit,
        }));
    }
    (out, truths)
}

/// Precision, recall and F1 of the candidates of `class` (every class: `None`) at or above
/// `thresholds` (one for every class, or one per class).
pub fn prf(cands: &[Candidate], truths: &[usize], class: Option<usize>, thresholds: &[f64]) -> Prf {
    let thr = |c: usize| match thresholds {
        [t] => *t,
        ts => ts[c],
    };
    let kept = cands
        .iter()
        .filter(|x| class.is_none_or(|c| x.class == c) && x.score >= thr(x.class) as f32);
    let (boxes, hits) = kept.fold((0, 0), |(n, h), x| (n + 1, h + x.hit as usize));
    let t = match class {
        Some(c) => truths[c],
        None => truths.iter().sum(),
    };
    Prf::of(boxes, hits, t)
}

/// The threshold of `grid` with the highest F1 of the candidates of `class` (every class:
/// `None`), the higher one on a tie.
fn best(cands: &[Candidate], truths: &[usize], class: Option<usize>, grid: &[f64]) -> f64 {
    let mut best = (f64::NEG_INFINITY, grid[0]);
    for &t in grid {
        let f = prf(cands, truths, class, &[t]).f1;
        if f >= best.0 {
            best = (f, t);
        }
    }
    best.1
}

/// Per class, the threshold of `grid` with the highest F1 (the higher one on a tie).
pub fn choose(cands: &[Candidate], truths: &[usize], grid: &[f64]) -> Vec<f64> {
    (0..truths.len())
        .map(|c| best(cands, truths, Some(c), grid))
        .collect()
}

pub struct ThresholdOptions {
    pub exp: Experiment,
    pub grid: Vec<f64>,
    pub device: tch::Device,
    pub out: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClassRow {
    pub class: String,
    pub chosen: f64,
    pub at_chosen: Prf,
    pub at_min_score: Prf,
}

#[derive(Debug, Clone, Serialize)]
pub struct ThresholdReport {
    pub experiment: String,
    pub min_score: f64,
    /// Tuning stream seeds per terminal.
    pub seeds: Vec<(String, u64)>,
    pub frames: usize,
    pub grid: Vec<f64>,
    pub classes: Vec<ClassRow>,
    /// Every class pooled: at `min_score`, at the chosen thresholds, and at the best single
    /// threshold of the grid.
    pub pooled_min_score: Prf,
    pub pooled_chosen: Prf,
    pub best_single: f64,
    pub pooled_best_single: Prf,
    /// What to pass to `evolve run` / `compare` to use them.
    pub set: String,
}

/// Labels the tuning frames and chooses; writes `thresholds.{md,json}` in `o.out`.
pub fn choose_thresholds(o: &ThresholdOptions) -> Result<ThresholdReport> {
    let bad = |x: String| EvolveError::BadInput(x);
    if o.grid.is_empty() || o.grid.iter().any(|&t| !(t > 0.0 && t < 1.0)) {
        return Err(bad(format!(
            "--grid {:?}: one or more detection scores in (0, 1)",
            o.grid
        )));
    }
    if o.exp.protocol.tuning_seeds.is_empty() {
        return Err(bad(format!(
            "experiment `{}`: protocol.tuning_seeds is empty; thresholds are chosen on tuning \
             seeds only",
            o.exp.name
        )));
    }
    let e = o.exp.replicate(0, true);
    let (global, _) = checkpoint::load(Path::new(&e.global.model), o.device)?;
    let floor = o.grid.iter().copied().fold(1.0, f64::min);
    let req = LabelRequest {
        min_score: floor as f32,
        feature_layer: None,
    };
    let sources = terminal_sources(&e)?;
    let per = uploads(&e, None);
    let (mut cands, mut truths) = (Vec::new(), vec![0usize; CLASSES.len()]);
    let mut frames = 0;
    let mut seeds = Vec::new();
    for (k, t) in e.terminals.iter().enumerate() {
        if e.stream_of(k).is_none() {
            continue; // a folder has no tuning seed
        }
        seeds.push((t.id.clone(), t.stream_seed));
        for w in 0..e.windows.count {
            let up = upload_frames(&e, k, &sources[k], w, per[k])?;
            let labels = if e.global.adapt_bn {
                let m = copy_model(&global, &global.desc.name)?;
                reestimate_bn_on(&m, up.iter())?;
                TorchLabeller::new(&m).label(&up, &req)?
            } else {
                TorchLabeller::new(&global).label(&up, &req)?
            };
            let (c, g) = candidates(&up, &labels);
            cands.extend(c);
            truths.iter_mut().zip(g).for_each(|(a, b)| *a += b);
            frames += up.len();
        }
    }
    if frames == 0 {
        return Err(bad(format!(
            "experiment `{}`: no terminal on a rendered stream",
            e.name
        )));
    }
    let chosen = choose(&cands, &truths, &o.grid);
    let ms = [e.global.min_score];
    let classes = CLASSES
        .iter()
        .enumerate()
        .map(|(c, name)| ClassRow {
            class: name.to_string(),
            chosen: chosen[c],
            at_chosen: prf(&cands, &truths, Some(c), &chosen),
            at_min_score: prf(&cands, &truths, Some(c), &ms),
        })
        .collect();
    let best_single = best(&cands, &truths, None, &o.grid);
    let list: Vec<String> = chosen.iter().map(|t| format!("{t}")).collect();
    let report = ThresholdReport {
        experiment: e.name.clone(),
        min_score: e.global.min_score,
        seeds,
        frames,
        grid: o.grid.clone(),
        classes,
        pooled_min_score: prf(&cands, &truths, None, &ms),
        pooled_chosen: prf(&cands, &truths, None, &chosen),
        best_single,
        pooled_best_single: prf(&cands, &truths, None, &[best_single]),
        set: format!("--set 'global.class_min_scores=[{}]'", list.join(", ")),
    };
    write(&o.out, &report)?;
    Ok(report)
}

fn write(out: &Path, r: &ThresholdReport) -> Result<()> {
    let row = |what: &str, t: &str, p: &Prf| {
        format!(
            "| {what} | {t} | {} | {} | {} | {:.3} | {:.3} | {:.3} |\n",
            p.boxes, p.hits, p.truths, p.precision, p.recall, p.f1
        )
    };
    let mut md = format!(
        "Experiment `{}`, tuning seeds {:?}: {} uploaded frames labelled by the shipped global \
         model as the edge labels them; pseudo boxes matched to ground truth (same class, IoU >= \
         0.5, best first).\n\n\
         | class | threshold | boxes | hits | truths | precision | recall | F1 |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
        r.experiment, r.seeds, r.frames
    );
    for c in &r.classes {
        md += &row(
            &c.class,
            &format!("{} (min_score)", r.min_score),
            &c.at_min_score,
        );
        md += &row(
            &c.class,
            &format!("**{}** (chosen)", c.chosen),
            &c.at_chosen,
        );
    }
    md += &row(
        "all",
        &format!("{} (min_score)", r.min_score),
        &r.pooled_min_score,
    );
    md += &row("all", "chosen per class", &r.pooled_chosen);
    md += &row(
        "all",
        &format!("{} (best single)", r.best_single),
        &r.pooled_best_single,
    );
    md += &format!("\nTo use them: `{}`\n", r.set);
    crate::replicates::write_files(
        out,
        &[
            ("thresholds.md", &md),
            (
                "thresholds.json",
                &serde_json::to_string_pretty(r).expect("serialisable"),
            ),
        ],
    )
}
