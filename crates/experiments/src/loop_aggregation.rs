//! Table 3 inside the loop: in every co-evolving window of a comparison's runs, the
//! intermediates as they were averaged (`rounds/wK/mid-<terminal>.safetensors`, kept with
//! `mutual.persist`) and the new global model made from them (`rounds/wK/global.safetensors`),
//! each scored on the terminals' joint scoring frames of that window (segment K + 1 of every
//! stream, pooled). The aggregation loss is the best single intermediate's mAP minus the
//! average's; NestEvo (with the generator) against A2 (without) as a paired difference over
//! replicates and windows.

use nestevo_eval::paired::{mean_interval, paired, Estimate};
use nestevo_eval::{evaluate, ground_truth};
use nestevo_evolve::config::{parse_experiment, Experiment};
use nestevo_evolve::error::{EvolveError, Result};
use nestevo_evolve::run::{scoring_frames, terminal_sources};
use nestevo_train::checkpoint;
use nestevo_train::evaluate::predict;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize)]
pub struct WindowLoss {
    pub replicate: usize,
    pub method: String,
    pub window: usize,
    /// Each intermediate's mAP@0.5 on the joint frames, by terminal.
    pub intermediates: Vec<(String, f64)>,
    /// The new global model (their average, batch-norm statistics as the run left them).
    pub average: f64,
    /// Best single intermediate minus the average.
    pub loss: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoopTable {
    pub windows: Vec<WindowLoss>,
    /// Per method: the mean loss over replicates (each replicate's mean over its windows).
    pub mean_loss: Vec<(String, Estimate)>,
    /// NestEvo's loss minus A2's, paired by replicate (each its mean over windows).
    pub nestevo_minus_a2: Option<Estimate>,
}

/// `a - b` over the replicates both have, paired; None where they share none.
fn paired_by_replicate(a: &[(usize, f64)], b: &[(usize, f64)]) -> Option<Estimate> {
    let both: Vec<(f64, f64)> = a
        .iter()
        .filter_map(|(r, x)| b.iter().find(|(q, _)| q == r).map(|(_, y)| (*x, *y)))
        .collect();
    (!both.is_empty()).then(|| {
        paired(
            &both.iter().map(|p| p.0).collect::<Vec<_>>(),
            &both.iter().map(|p| p.1).collect::<Vec<_>>(),
        )
    })
}

fn replicate_of(name: &str) -> Option<usize> {
    name.strip_prefix("rep")?.parse().ok()
}

/// A finished run of a comparison: replicate, method, folder and the experiment it ran.
type FinishedRun = (usize, &'static str, PathBuf, Experiment);

/// The replicates under `dir` (a comparison's folder, `rep<r>/<method>/`) and their finished
/// nestevo and a2 runs, in replicate order.
fn finished_runs(dir: &Path) -> Result<(Vec<usize>, Vec<FinishedRun>)> {
    let mut reps: Vec<usize> = std::fs::read_dir(dir)
        .map_err(|x| EvolveError::BadInput(format!("reading {}: {x}", dir.display())))?
        .filter_map(|e| replicate_of(&e.ok()?.file_name().to_string_lossy()))
        .collect();
    reps.sort();
    let mut runs = Vec::new();
    for &r in &reps {
        for method in ["nestevo", "a2"] {
            let run = dir.join(format!("rep{r}")).join(method);
            if !run.join("summary.json").is_file() {
                continue;
            }
            let made = run.join("experiment.toml");
            let text = std::fs::read_to_string(&made)
                .map_err(|x| EvolveError::BadInput(format!("reading {}: {x}", made.display())))?;
            let e = parse_experiment(&text, &made.display().to_string())?;
            runs.push((r, method, run, e));
        }
    }
    Ok((reps, runs))
}

/// The losses of every finished co-evolving window under `dir` (a comparison's folder:
/// `rep<r>/<method>/`), for the methods nestevo and a2; writes `table3_loop.{md,json}` there.
pub fn loop_aggregation(dir: &Path, device: tch::Device) -> Result<LoopTable> {
    let (reps, runs) = finished_runs(dir)?;
    let mut windows = Vec::new();
    for (r, method, run, e) in &runs {
        windows.extend(run_losses(e, run, *r, method, device)?);
    }
    let per_rep = |m: &str| -> Vec<(usize, f64)> {
        reps.iter()
            .filter_map(|&r| {
                let ls: Vec<f64> = windows
                    .iter()
                    .filter(|w| w.replicate == r && w.method == m)
                    .map(|w| w.loss)
                    .collect();
                (!ls.is_empty()).then(|| (r, ls.iter().sum::<f64>() / ls.len() as f64))
            })
            .collect()
    };
    let (n, a) = (per_rep("nestevo"), per_rep("a2"));
    let mean_loss = vec![
        (
            "nestevo".to_string(),
            mean_interval(&n.iter().map(|x| x.1).collect::<Vec<_>>()),
        ),
        (
            "a2".to_string(),
            mean_interval(&a.iter().map(|x| x.1).collect::<Vec<_>>()),
        ),
    ];
    let nestevo_minus_a2 = paired_by_replicate(&n, &a);
    let table = LoopTable {
        windows,
        mean_loss,
        nestevo_minus_a2,
    };
    write(dir, &table)?;
    Ok(table)
}

/// The losses of every co-evolving window of one run folder (`r` and `method` label them).
pub fn run_losses(
    e: &Experiment,
    run: &Path,
    r: usize,
    method: &str,
    device: tch::Device,
) -> Result<Vec<WindowLoss>> {
    let sources = terminal_sources(e)?;
    let mut out = Vec::new();
    for w in 0..e.windows.count {
        let round = run.join("rounds").join(format!("w{w}"));
        let mids: Vec<_> = e
            .terminals
            .iter()
            .map(|t| {
                (
                    t.id.clone(),
                    round.join(format!("mid-{}.safetensors", t.id)),
                )
            })
            .collect();
        if !mids.iter().all(|m| m.1.is_file()) {
            continue;
        }
        let mut frames = Vec::new();
        for (k, src) in sources.iter().enumerate() {
            let (f, _) = scoring_frames(e, k, src, w as u64 + 1, e.windows.eval_frames)?;
            let base = frames.len() as u64;
            frames.extend(f.into_iter().map(|mut f| {
                f.index += base;
                f
            }));
        }
        let gt = ground_truth(&frames);
        let score = |p: &Path| -> Result<f64> {
            let (m, _) = checkpoint::load(p, device)?;
            Ok(evaluate(&gt, &predict(&m, &frames, 64)?).map50)
        };
        let intermediates = mids
            .iter()
            .map(|(id, p)| Ok((id.clone(), score(p)?)))
            .collect::<Result<Vec<_>>>()?;
        let average = score(&round.join("global.safetensors"))?;
        let best = intermediates.iter().map(|x| x.1).fold(f64::MIN, f64::max);
        out.push(WindowLoss {
            replicate: r,
            method: method.to_string(),
            window: w,
            intermediates,
            average,
            loss: best - average,
        });
    }
    Ok(out)
}

fn write(dir: &Path, t: &LoopTable) -> Result<()> {
    let est = |e: &Estimate| e.signed();
    let mut md = String::from(
        "Aggregation inside the loop: per co-evolving window, each intermediate as averaged and \
         the new global model on the terminals' joint scoring frames of the window (mAP@0.5); \
         loss = best single intermediate minus the average.\n\n\
         | replicate | method | window | intermediates | average | loss |\n|---:|---|---:|---|---:|---:|\n",
    );
    for w in &t.windows {
        let mids: Vec<String> = w
            .intermediates
            .iter()
            .map(|(id, v)| format!("{id} {v:.3}"))
            .collect();
        md.push_str(&format!(
            "| {} | {} | {} | {} | {:.3} | {:+.3} |\n",
            w.replicate,
            w.method,
            w.window,
            mids.join(", "),
            w.average,
            w.loss
        ));
    }
    md.push_str("\nMean loss over replicates (each replicate's mean over its windows), 95 % t interval:\n\n");
    for (m, e) in &t.mean_loss {
        md.push_str(&format!("- {m}: {} ({} replicates)\n", est(e), e.n));
    }
    if let Some(d) = &t.nestevo_minus_a2 {
        md.push_str(&format!(
            "- nestevo - a2 (paired by replicate): {} -> {}\n",
            est(d),
            d.verdict()
        ));
    }
    let w = |name: &str, text: &str| -> Result<()> {
        Ok(nestevo_core::error::write_atomic(
            &dir.join(name),
            text.as_bytes(),
        )?)
    };
    w("table3_loop.md", &md)?;
    w(
        "table3_loop.json",
        &serde_json::to_string_pretty(t).expect("serialisable"),
    )
}

/// The global model as it labels: before (the shipped one) and after a run (its final one),
/// each with its batch-norm statistics re-estimated on each terminal's last upload (what
/// `global.adapt_bn` does), scored on that terminal's post-run frames; the mean over
/// terminals.
#[derive(Debug, Clone, Serialize)]
pub struct AdaptedGlobal {
    pub replicate: usize,
    pub method: String,
    pub before: f64,
    pub after: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct AdaptedTable {
    pub runs: Vec<AdaptedGlobal>,
    /// Per method: after minus before, paired by replicate.
    pub after_minus_before: Vec<(String, Estimate)>,
    /// NestEvo's final global model as it labels minus A2's, paired by replicate.
    pub nestevo_minus_a2: Option<Estimate>,
}

/// The shipped and the run's final global model, each with its statistics re-estimated on
/// each terminal's last upload, scored on that terminal's post-run frames; means over the
/// terminals.
fn adapted_scores(e: &Experiment, run: &Path, device: tch::Device) -> Result<[f64; 2]> {
    let records = nestevo_evolve::run::read_records(run)?;
    let sources = terminal_sources(e)?;
    let last = e.windows.count - 1;
    let post = e.windows.count as u64 + 1;
    let mut score = [0.0f64; 2];
    for (k, t) in e.terminals.iter().enumerate() {
        let n = records
            .iter()
            .find(|x| x.window == last && x.terminal == t.id)
            .map_or(e.windows.d_max / e.terminals.len(), |x| x.uploaded);
        let up = nestevo_evolve::run::upload_frames(e, k, &sources[k], last, n)?;
        let rgb: Vec<&[u8]> = up.iter().map(|f| f.rgb.as_slice()).collect();
        let (frames, _) = scoring_frames(e, k, &sources[k], post, e.windows.eval_frames)?;
        let gt = ground_truth(&frames);
        let models = [
            Path::new(&e.global.model).to_path_buf(),
            run.join("final/global.safetensors"),
        ];
        for (i, p) in models.iter().enumerate() {
            let (m, _) = checkpoint::load(p, device)?;
            m.reestimate_bn(&m.batch_from_rgb(&rgb))?;
            score[i] += evaluate(&gt, &predict(&m, &frames, 64)?).map50 / e.terminals.len() as f64;
        }
    }
    Ok(score)
}

/// `AdaptedGlobal` for every finished nestevo and a2 run under `dir` (a comparison's folder);
/// writes `global_adapted.{md,json}` there.
pub fn global_adapted(dir: &Path, device: tch::Device) -> Result<AdaptedTable> {
    let mut runs = Vec::new();
    for (r, method, run, e) in finished_runs(dir)?.1 {
        let [before, after] = adapted_scores(&e, &run, device)?;
        runs.push(AdaptedGlobal {
            replicate: r,
            method: method.to_string(),
            before,
            after,
        });
    }
    let after_minus_before = ["nestevo", "a2"]
        .iter()
        .map(|m| {
            let rs: Vec<&AdaptedGlobal> = runs.iter().filter(|x| x.method == *m).collect();
            (
                m.to_string(),
                paired(
                    &rs.iter().map(|x| x.after).collect::<Vec<_>>(),
                    &rs.iter().map(|x| x.before).collect::<Vec<_>>(),
                ),
            )
        })
        .collect();
    let after = |m: &str| -> Vec<(usize, f64)> {
        runs.iter()
            .filter(|x| x.method == m)
            .map(|x| (x.replicate, x.after))
            .collect()
    };
    let nestevo_minus_a2 = paired_by_replicate(&after("nestevo"), &after("a2"));
    let t = AdaptedTable {
        runs,
        after_minus_before,
        nestevo_minus_a2,
    };
    let mut md = String::from(
        "The global model as it labels: its batch-norm statistics re-estimated on each \
         terminal's last upload, scored on that terminal's post-run frames (mAP@0.5, mean over \
         terminals); before = the shipped model, after = the run's final one.\n\n\
         | replicate | method | before | after |\n|---:|---|---:|---:|\n",
    );
    for x in &t.runs {
        md.push_str(&format!(
            "| {} | {} | {:.3} | {:.3} |\n",
            x.replicate, x.method, x.before, x.after
        ));
    }
    md.push_str("\nAfter minus before, paired by replicate (95 % t interval):\n\n");
    for (m, e) in &t.after_minus_before {
        md.push_str(&format!("- {m}: {} -> {}\n", e.signed(), e.verdict()));
    }
    if let Some(d) = &t.nestevo_minus_a2 {
        md.push_str(&format!(
            "- nestevo - a2, after (paired by replicate): {} -> {}\n",
            d.signed(),
            d.verdict()
        ));
    }
    let w = |name: &str, text: &str| -> Result<()> {
        Ok(nestevo_core::error::write_atomic(
            &dir.join(name),
            text.as_bytes(),
        )?)
    };
    w("global_adapted.md", &md)?;
    w(
        "global_adapted.json",
        &serde_json::to_string_pretty(&t).expect("serialisable"),
    )?;
    Ok(t)
}
