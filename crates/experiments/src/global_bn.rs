//! The global model scored as it is, with the batch-norm statistics it could carry: a run's
//! final global model as the run left it, and the same weights with their statistics
//! re-estimated on the edge's source frames only (`edge::source_frames`, the frames the run
//! replayed), against the shipped model; each on the terminals' post-run frames, pooled and as
//! the mean over terminals (the two ways `Summary` scores it). A diagnostic over finished runs:
//! it reads their `experiment.toml` and `final/global.safetensors` and trains nothing.

use nestevo_eval::paired::{paired, Estimate};
use nestevo_eval::{evaluate, ground_truth};
use nestevo_evolve::config::parse_experiment;
use nestevo_evolve::edge::{reestimate_bn_on, source_frames};
use nestevo_evolve::error::{EvolveError, Result};
use nestevo_evolve::run::{scoring_frames, terminal_sources};
use nestevo_train::checkpoint;
use nestevo_train::detector::Detector;
use nestevo_train::evaluate::predict;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One model's mAP@0.5 on the post-run frames.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Scores {
    /// On the terminals' post-run frames pooled.
    pub pooled: f64,
    /// The mean over terminals of each one's post-run frames.
    pub mean: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunScores {
    pub run: String,
    /// The shipped global model.
    pub before: Scores,
    /// The final global model as the run saved it.
    pub after: Scores,
    /// Its statistics re-estimated on the source frames only.
    pub after_source: Scores,
}

#[derive(Debug, Clone, Serialize)]
pub struct GlobalBnTable {
    pub runs: Vec<RunScores>,
    /// After minus before, paired by run: (variant, pooled, mean over terminals).
    pub differences: Vec<(String, Estimate, Estimate)>,
}

/// Finished runs at or below `dir` (folders holding `summary.json` and
/// `final/global.safetensors`), in path order; a folder reached twice through links is read once.
fn runs_under(
    dir: &Path,
    seen: &mut std::collections::HashSet<PathBuf>,
    out: &mut Vec<PathBuf>,
) -> Result<()> {
    if let Ok(real) = dir.canonicalize() {
        if !seen.insert(real) {
            return Ok(());
        }
    }
    if dir.join("summary.json").is_file() && dir.join("final/global.safetensors").is_file() {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    let mut subs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|x| EvolveError::BadInput(format!("reading {}: {x}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    subs.sort();
    for s in subs {
        runs_under(&s, seen, out)?;
    }
    Ok(())
}

fn score(m: &Detector, sets: &[Vec<nestevo_data::Frame>]) -> Result<Scores> {
    let mut mean = 0.0;
    let mut joint = Vec::new();
    for frames in sets {
        let d = predict(m, frames, 64)?;
        mean += evaluate(&ground_truth(frames), &d).map50 / sets.len() as f64;
        joint.extend(frames.iter().cloned());
    }
    // Image ids unique across terminals.
    for (i, f) in joint.iter_mut().enumerate() {
        f.index = i as u64;
    }
    let pooled = evaluate(&ground_truth(&joint), &predict(m, &joint, 64)?).map50;
    Ok(Scores { pooled, mean })
}

fn run_scores(run: &Path, device: tch::Device) -> Result<RunScores> {
    let made = run.join("experiment.toml");
    let text = std::fs::read_to_string(&made)
        .map_err(|x| EvolveError::BadInput(format!("reading {}: {x}", made.display())))?;
    let e = parse_experiment(&text, &made.display().to_string())?;
    let sources = terminal_sources(&e)?;
    let post = e.windows.count as u64 + 1;
    let sets = (0..e.terminals.len())
        .map(|k| Ok(scoring_frames(&e, k, &sources[k], post, e.windows.eval_frames)?.0))
        .collect::<Result<Vec<_>>>()?;
    let (shipped, _) = checkpoint::load(Path::new(&e.global.model), device)?;
    let final_path = run.join("final/global.safetensors");
    let (after, _) = checkpoint::load(&final_path, device)?;
    let before = score(&shipped, &sets)?;
    let after_scores = score(&after, &sets)?;
    let source = source_frames(&e);
    reestimate_bn_on(&after, source.iter())?;
    let after_source = score(&after, &sets)?;
    Ok(RunScores {
        run: run.display().to_string(),
        before,
        after: after_scores,
        after_source,
    })
}

/// Scores every finished run under `dirs`; writes `out/global_bn.{md,json}`.
pub fn global_bn(dirs: &[PathBuf], out: &Path, device: tch::Device) -> Result<GlobalBnTable> {
    let (mut found, mut seen) = (Vec::new(), Default::default());
    for d in dirs {
        runs_under(d, &mut seen, &mut found)?;
    }
    if found.is_empty() {
        return Err(EvolveError::BadInput(format!(
            "no finished run (summary.json and final/global.safetensors) under {}",
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut runs = Vec::new();
    for r in &found {
        eprintln!("global-bn: {}", r.display());
        runs.push(run_scores(r, device)?);
    }
    let diff = |f: &dyn Fn(&RunScores) -> Scores| {
        let a: Vec<Scores> = runs.iter().map(f).collect();
        let b: Vec<Scores> = runs.iter().map(|r| r.before).collect();
        let p = |g: &dyn Fn(&Scores) -> f64| {
            paired(
                &a.iter().map(g).collect::<Vec<_>>(),
                &b.iter().map(g).collect::<Vec<_>>(),
            )
        };
        (p(&|s| s.pooled), p(&|s| s.mean))
    };
    let (ap, am) = diff(&|r| r.after);
    let (sp, sm) = diff(&|r| r.after_source);
    let t = GlobalBnTable {
        runs,
        differences: vec![
            ("as saved".into(), ap, am),
            ("statistics re-estimated on source frames".into(), sp, sm),
        ],
    };
    let mut md = String::from(
        "The global model as it is on the terminals' post-run frames (mAP@0.5; pooled / mean \
         over terminals): the shipped model, the run's final model as saved, and the same \
         weights with their batch-norm statistics re-estimated on the edge's source frames.\n\n\
         | run | before | after, as saved | after, source statistics |\n|---|---:|---:|---:|\n",
    );
    let f = |s: &Scores| format!("{:.3} / {:.3}", s.pooled, s.mean);
    for r in &t.runs {
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            r.run,
            f(&r.before),
            f(&r.after),
            f(&r.after_source)
        ));
    }
    md.push_str(
        "\nAfter minus before, paired by run (95 % t interval), pooled / mean over terminals:\n\n",
    );
    for (v, p, m) in &t.differences {
        md.push_str(&format!(
            "- {v}: {} ({}) / {} ({})\n",
            p.signed(),
            p.verdict(),
            m.signed(),
            m.verdict()
        ));
    }
    let json = serde_json::to_string_pretty(&t).expect("serialisable");
    crate::replicates::write_files(out, &[("global_bn.md", &md), ("global_bn.json", &json)])?;
    Ok(t)
}
