//! Methods compared over independent replicates (Table 4 as paired differences).
//!
//! Replicate r is `Experiment::replicate(r, tuning)`: fresh stream seeds for every terminal
//! and a fresh run seed (training batches, uploads, generator), the same for every method, so
//! that inside a replicate every method sees the same frames and seeds. Each (replicate,
//! method) run lives in `out/rep<r>/<method>/` and resumes there; a finished run is read back;
//! each replicate's own table and plot (`compare`) go to `out/rep<r>/`.
//! `--shard i/n` runs the replicates r with r mod n = i, so that n machines share the work;
//! the tables are written from every replicate whose runs are all finished, whichever shard
//! made them.
//!
//! Per method: the mean over replicates of the final terminal mean and of the global model
//! before and after, each with its 95 % t interval (`eval::paired`). Paired: the first method
//! minus each other one (the final terminal mean, and the global model after where both
//! co-evolved), the global model after minus before, and per terminal the final
//! model minus the starting model on the same post-run frames (every run scores its starting
//! models beside its final ones). A difference is called above or below only where its
//! interval excludes 0.

use nestevo_eval::paired::{mean_interval, paired, Estimate};
use nestevo_evolve::config::Experiment;
use nestevo_evolve::error::{EvolveError, Result};
use nestevo_evolve::method::Method;
use nestevo_evolve::run::Summary;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Which replicates this call runs.
#[derive(Debug, Clone, Copy)]
pub struct Replicates {
    pub count: usize,
    /// On the preset's tuning seeds, not its scoring seeds.
    pub tuning: bool,
    /// (i, n): run only the replicates r with r mod n = i.
    pub shard: Option<(usize, usize)>,
}

impl Replicates {
    pub fn runs_here(&self, r: usize) -> bool {
        self.shard.is_none_or(|(i, n)| r % n == i)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MethodRow {
    pub method: Method,
    pub final_terminal: Estimate,
    pub start_terminal: Estimate,
    pub global_before: Estimate,
    pub global_after: Estimate,
    /// Co-evolutions per run, averaged.
    pub global_evolutions: f64,
    /// Wall seconds per run, averaged.
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PairedRow {
    /// e.g. "nestevo - a3", "nestevo: global after - before", "nestevo: rural final - start".
    pub what: String,
    pub difference: Estimate,
    pub verdict: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReplicateReport {
    pub experiment: String,
    pub tuning: bool,
    /// Replicates in the tables (all their runs finished).
    pub replicates: Vec<usize>,
    /// Replicates asked for but not (yet) finished: run elsewhere or still to run.
    pub missing: Vec<usize>,
    pub methods: Vec<MethodRow>,
    pub paired: Vec<PairedRow>,
}

/// Replicate `r`'s folder under `out`.
pub(crate) fn rep_dir(out: &Path, r: usize) -> PathBuf {
    out.join(format!("rep{r}"))
}

fn read_summary(dir: &Path) -> Option<Summary> {
    let text = std::fs::read_to_string(dir.join("summary.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Replicates 0..count whose runs (`arms(r)`: one folder per arm) have all finished, those
/// that have not, and the finished ones' summaries, one per arm.
pub(crate) type Finished = (Vec<usize>, Vec<usize>, Vec<Vec<Summary>>);

pub(crate) fn finished(count: usize, arms: impl Fn(usize) -> Vec<PathBuf>) -> Finished {
    let (mut done, mut missing, mut runs) = (Vec::new(), Vec::new(), Vec::new());
    for r in 0..count {
        match arms(r).iter().map(|d| read_summary(d)).collect() {
            Some(s) => {
                done.push(r);
                runs.push(s);
            }
            None => missing.push(r),
        }
    }
    (done, missing, runs)
}

/// Arm `a`'s own paired rows: final minus starting terminal mean and, where it co-evolved,
/// the global model after minus before (pooled and mean over terminals).
pub(crate) fn arm_pairs(
    name: &str,
    runs: &[Vec<Summary>],
    a: usize,
    push: &mut impl FnMut(String, Estimate),
) {
    let col =
        |f: &dyn Fn(&Summary) -> f64| -> Vec<f64> { runs.iter().map(|rep| f(&rep[a])).collect() };
    push(
        format!("{name}: final - start (terminal mean)"),
        paired(
            &col(&|s| s.final_terminal_map50),
            &col(&|s| s.start_terminal_map50),
        ),
    );
    if runs.iter().any(|rep| rep[a].global_evolutions > 0) {
        push(
            format!("{name}: global after - before (pooled)"),
            paired(
                &col(&|s| s.global_map50_after),
                &col(&|s| s.global_map50_before),
            ),
        );
        push(
            format!("{name}: global after - before (mean over terminals)"),
            paired(
                &col(&|s| s.global_mean_map50_after),
                &col(&|s| s.global_mean_map50_before),
            ),
        );
    }
}

/// The paired differences as a Markdown table (appended to `md`) and CSV rows (to `csv`).
pub(crate) fn paired_section(md: &mut String, csv: &mut String, paired: &[PairedRow]) {
    md.push_str(
        "\nPaired differences over replicates (95 % t interval); an ordering only where the \
         interval excludes 0.\n\n| difference | mean [95 % interval] | verdict |\n|---|---|---|\n",
    );
    for p in paired {
        md.push_str(&format!(
            "| {} | {} | {} |\n",
            p.what,
            p.difference.signed(),
            p.verdict
        ));
        csv.push_str(&format!(
            "paired,{},{:.4},{:.4},{:.4},{},{}\n",
            p.what, p.difference.mean, p.difference.lo, p.difference.hi, p.difference.n, p.verdict
        ));
    }
}

/// Writes `files` (name, text) into `out` atomically, making `out` first.
pub(crate) fn write_files(out: &Path, files: &[(&str, &str)]) -> Result<()> {
    std::fs::create_dir_all(out)
        .map_err(|x| EvolveError::BadInput(format!("creating {}: {x}", out.display())))?;
    for (name, text) in files {
        nestevo_core::error::write_atomic(&out.join(name), text.as_bytes())?;
    }
    Ok(())
}

/// Checks the seeds (scoring runs never on tuning seeds), then calls `f` with each of this
/// shard's replicates and its folder, in order, saying which on stderr with `progress`.
pub(crate) fn each_replicate(
    exp: &Experiment,
    reps: &Replicates,
    out: &Path,
    progress: bool,
    mut f: impl FnMut(&Experiment, &Path) -> Result<()>,
) -> Result<()> {
    if !reps.tuning {
        exp.check_scoring_seeds(&format!("experiment `{}`", exp.name))?;
    }
    for r in (0..reps.count).filter(|&r| reps.runs_here(r)) {
        if progress {
            eprintln!(
                "replicate {r} of {}: {}",
                reps.count,
                rep_dir(out, r).display()
            );
        }
        f(&exp.replicate(r, reps.tuning), &rep_dir(out, r))?;
    }
    Ok(())
}

/// Runs this shard's replicates of every method, then writes `replicates.{md,csv,json}` in
/// `out` from every finished replicate.
pub fn compare_replicates(
    exp: &Experiment,
    methods: &[Method],
    reps: &Replicates,
    out: &Path,
    device: tch::Device,
    progress: bool,
) -> Result<ReplicateReport> {
    if methods.is_empty() || reps.count == 0 {
        return Err(EvolveError::BadInput(
            "a comparison needs at least one method and one replicate".into(),
        ));
    }
    each_replicate(exp, reps, out, progress, |e, dir| {
        // The replicate's own table and plot (`compare`), its runs in rep<r>/<method>/.
        crate::compare::compare(e, methods, dir, device, progress).map(|_| ())
    })?;
    let report = tables(exp, methods, reps, out)?;
    write_report(out, &report)?;
    Ok(report)
}

/// The report from the finished runs under `out` (no training).
pub fn tables(
    exp: &Experiment,
    methods: &[Method],
    reps: &Replicates,
    out: &Path,
) -> Result<ReplicateReport> {
    let (done, missing, runs) = finished(reps.count, |r| {
        methods
            .iter()
            .map(|m| rep_dir(out, r).join(m.name()))
            .collect()
    });
    let col = |m: usize, f: &dyn Fn(&Summary) -> f64| -> Vec<f64> {
        runs.iter().map(|rep| f(&rep[m])).collect()
    };
    let mut rows = Vec::new();
    for (mi, &m) in methods.iter().enumerate() {
        let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len().max(1) as f64;
        rows.push(MethodRow {
            method: m,
            final_terminal: mean_interval(&col(mi, &|s| s.final_terminal_map50)),
            start_terminal: mean_interval(&col(mi, &|s| s.start_terminal_map50)),
            global_before: mean_interval(&col(mi, &|s| s.global_map50_before)),
            global_after: mean_interval(&col(mi, &|s| s.global_map50_after)),
            global_evolutions: mean(col(mi, &|s| s.global_evolutions as f64)),
            seconds: mean(col(mi, &|s| s.seconds)),
        });
    }
    let mut pairs = Vec::new();
    let mut push = |what: String, d: Estimate| {
        pairs.push(PairedRow {
            what,
            verdict: d.verdict().to_string(),
            difference: d,
        })
    };
    let first = col(0, &|s| s.final_terminal_map50);
    for (mi, m) in methods.iter().enumerate().skip(1) {
        push(
            format!("{} - {m} (final terminal mean)", methods[0]),
            paired(&first, &col(mi, &|s| s.final_terminal_map50)),
        );
    }
    // The global models the two methods leave, where both co-evolved (e.g. NestEvo against A2,
    // which differ only in the generator): the same start, frames and seeds.
    let evolved = |mi: usize| runs.iter().any(|rep| rep[mi].global_evolutions > 0);
    for (mi, m) in methods.iter().enumerate().skip(1) {
        if !(evolved(0) && evolved(mi)) {
            continue;
        }
        push(
            format!("{} - {m} (global after, pooled)", methods[0]),
            paired(
                &col(0, &|s| s.global_map50_after),
                &col(mi, &|s| s.global_map50_after),
            ),
        );
        push(
            format!("{} - {m} (global after, mean over terminals)", methods[0]),
            paired(
                &col(0, &|s| s.global_mean_map50_after),
                &col(mi, &|s| s.global_mean_map50_after),
            ),
        );
    }
    for (mi, m) in methods.iter().enumerate() {
        arm_pairs(&m.to_string(), &runs, mi, &mut push);
        for t in &exp.terminals {
            let of = |s: &Summary, f: &dyn Fn(&nestevo_evolve::run::TerminalSummary) -> f64| {
                s.terminals
                    .iter()
                    .find(|x| x.id == t.id)
                    .map_or(f64::NAN, f)
            };
            push(
                format!("{m}: {} final - start", t.id),
                paired(
                    &col(mi, &|s| of(s, &|x| x.final_map50)),
                    &col(mi, &|s| of(s, &|x| x.start_map50)),
                ),
            );
        }
    }
    Ok(ReplicateReport {
        experiment: exp.name.clone(),
        tuning: reps.tuning,
        replicates: done,
        missing,
        methods: rows,
        paired: pairs,
    })
}

pub(crate) fn est(e: &Estimate) -> String {
    if e.lo.is_finite() {
        format!("{:.3} [{:.3}, {:.3}]", e.mean, e.lo, e.hi)
    } else {
        format!("{:.3} (one replicate: no interval)", e.mean)
    }
}

fn write_report(out: &Path, r: &ReplicateReport) -> Result<()> {
    let mut md = format!(
        "Experiment `{}`{}: {} replicate(s) finished ({:?}){}. Means over replicates with 95 % \
         t intervals; terminal mAP@0.5 is the mean over terminals of each final (or starting) \
         model on the post-run segment.\n\n\
         | method | terminal final | terminal start | global before (pooled) | global after (pooled) | co-evolutions | wall per run (s) |\n\
         |---|---|---|---|---|---:|---:|\n",
        r.experiment,
        if r.tuning { " on its tuning seeds" } else { "" },
        r.replicates.len(),
        r.replicates,
        if r.missing.is_empty() {
            String::new()
        } else {
            format!("; not finished: {:?}", r.missing)
        }
    );
    let mut csv = String::from("kind,what,mean,lo,hi,n,verdict\n");
    for m in &r.methods {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.1} | {:.0} |\n",
            m.method,
            est(&m.final_terminal),
            est(&m.start_terminal),
            est(&m.global_before),
            est(&m.global_after),
            m.global_evolutions,
            m.seconds
        ));
        for (what, e) in [
            ("final_terminal", &m.final_terminal),
            ("start_terminal", &m.start_terminal),
            ("global_before", &m.global_before),
            ("global_after", &m.global_after),
        ] {
            csv.push_str(&format!(
                "method,{} {what},{:.4},{:.4},{:.4},{},\n",
                m.method, e.mean, e.lo, e.hi, e.n
            ));
        }
    }
    paired_section(&mut md, &mut csv, &r.paired);
    write_files(
        out,
        &[
            ("replicates.md", &md),
            ("replicates.csv", &csv),
            (
                "replicates.json",
                &serde_json::to_string_pretty(r).expect("serialisable"),
            ),
        ],
    )
}
