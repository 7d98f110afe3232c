//! One knob swept over independent replicates (Fig. 11 as paired differences).
//!
//! Replicate r is `Experiment::replicate(r, tuning)`, as in `replicates`: every value of the
//! knob sees the same frames and seeds inside a replicate. Value v of replicate r is one run
//! of the method in `out/rep<r>/<key>=<v>/`, resumed there and read back once finished; each
//! replicate's own table and plot (`compare::sweep`) go to `out/rep<r>/`. `--shard i/n` runs
//! the replicates r with r mod n = i; the tables cover every replicate whose runs are all
//! finished, whichever shard made them.
//!
//! Per value: the means over replicates of the final terminal mean, of the terminal mean over
//! the windows and of the mean life-cycle performance, each with its 95 % t interval. Paired:
//! each value minus the first one on the same replicate, and per value the final terminal
//! models minus the starting ones on the same post-run frames. A difference is called above
//! or below only where its interval excludes 0.

use crate::replicates::{
    arm_pairs, each_replicate, est, finished, paired_section, rep_dir, write_files, PairedRow,
    Replicates,
};
use nestevo_eval::paired::{mean_interval, paired, Estimate};
use nestevo_evolve::config::{apply_overrides, Experiment};
use nestevo_evolve::error::{EvolveError, Result};
use nestevo_evolve::method::Method;
use nestevo_evolve::run::Summary;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize)]
pub struct ValueRow {
    pub value: String,
    pub final_terminal: Estimate,
    pub start_terminal: Estimate,
    /// Over windows and terminals: each window's new models on the segment after it.
    pub mean_after: Estimate,
    pub mean_lcp: Estimate,
    pub global_after: Estimate,
    /// Co-evolutions per run, averaged.
    pub global_evolutions: f64,
    /// Wall seconds per run, averaged.
    pub seconds: f64,
    /// Paired against the first value: final terminal mean, terminal mean over the windows and
    /// mean LCP (0 for the first value itself).
    pub versus_first: [Estimate; 3],
}

#[derive(Debug, Clone, Serialize)]
pub struct SweepReport {
    pub experiment: String,
    pub method: Method,
    pub key: String,
    pub tuning: bool,
    pub windows: usize,
    /// Replicates in the tables (every value's run finished).
    pub replicates: Vec<usize>,
    /// Replicates asked for but not (yet) finished.
    pub missing: Vec<usize>,
    pub values: Vec<ValueRow>,
    pub paired: Vec<PairedRow>,
}

fn value_dir(out: &Path, r: usize, key: &str, v: &str) -> PathBuf {
    rep_dir(out, r).join(format!("{key}={v}"))
}

/// Runs this shard's replicates of every value, then writes `sweep_replicates.{md,csv,json}`
/// and `sweep_replicates.png` in `out` from every finished replicate.
#[allow(clippy::too_many_arguments)]
pub fn sweep_replicates(
    exp: &Experiment,
    method: Method,
    key: &str,
    values: &[String],
    reps: &Replicates,
    out: &Path,
    device: tch::Device,
    progress: bool,
) -> Result<SweepReport> {
    if values.is_empty() || reps.count == 0 {
        return Err(EvolveError::BadInput(
            "a sweep needs at least one value and one replicate".into(),
        ));
    }
    // Every value must parse and validate before any run starts.
    for v in values {
        apply_overrides(exp, &[format!("{key}={v}")], "--sweep")?;
    }
    each_replicate(exp, reps, out, progress, |e, dir| {
        crate::compare::sweep(e, method, key, values, dir, device, progress).map(|_| ())
    })?;
    let report = sweep_tables(exp, method, key, values, reps, out)?;
    write_report(out, &report)?;
    Ok(report)
}

/// The report from the finished runs under `out` (no training).
pub fn sweep_tables(
    exp: &Experiment,
    method: Method,
    key: &str,
    values: &[String],
    reps: &Replicates,
    out: &Path,
) -> Result<SweepReport> {
    let (done, missing, runs) = finished(reps.count, |r| {
        values.iter().map(|v| value_dir(out, r, key, v)).collect()
    });
    let col = |vi: usize, f: &dyn Fn(&Summary) -> f64| -> Vec<f64> {
        runs.iter().map(|rep| f(&rep[vi])).collect()
    };
    let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len().max(1) as f64;
    type Figure = (&'static str, fn(&Summary) -> f64);
    let figures: [Figure; 3] = [
        ("final terminal mean", |s| s.final_terminal_map50),
        ("terminal mean over windows", |s| s.mean_map50_after),
        ("mean LCP", |s| s.mean_lcp),
    ];
    let rows: Vec<ValueRow> = values
        .iter()
        .enumerate()
        .map(|(vi, v)| ValueRow {
            value: v.clone(),
            final_terminal: mean_interval(&col(vi, &|s| s.final_terminal_map50)),
            start_terminal: mean_interval(&col(vi, &|s| s.start_terminal_map50)),
            mean_after: mean_interval(&col(vi, &|s| s.mean_map50_after)),
            mean_lcp: mean_interval(&col(vi, &|s| s.mean_lcp)),
            global_after: mean_interval(&col(vi, &|s| s.global_map50_after)),
            global_evolutions: mean(col(vi, &|s| s.global_evolutions as f64)),
            seconds: mean(col(vi, &|s| s.seconds)),
            versus_first: figures.map(|(_, f)| paired(&col(vi, &f), &col(0, &f))),
        })
        .collect();
    let mut pairs = Vec::new();
    let mut push = |what: String, d: Estimate| {
        pairs.push(PairedRow {
            what,
            verdict: d.verdict().to_string(),
            difference: d,
        })
    };
    let v0 = &values[0];
    for (row, v) in rows.iter().zip(values).skip(1) {
        for ((what, _), d) in figures.iter().zip(row.versus_first) {
            push(format!("{key}={v} - {key}={v0} ({what})"), d);
        }
    }
    for (vi, v) in values.iter().enumerate() {
        arm_pairs(&format!("{key}={v}"), &runs, vi, &mut push);
    }
    Ok(SweepReport {
        experiment: exp.name.clone(),
        method,
        key: key.to_string(),
        tuning: reps.tuning,
        windows: exp.windows.count,
        replicates: done,
        missing,
        values: rows,
        paired: pairs,
    })
}

fn write_report(out: &Path, r: &SweepReport) -> Result<()> {
    let key = &r.key;
    let mut md = format!(
        "Experiment `{}`{}, method {}, {key} swept: {} replicate(s) finished ({:?}){}. Means over \
         replicates with 95 % t intervals; terminal mAP@0.5 is the mean over terminals of each \
         final (or starting) model on the post-run segment; over windows: each window's new \
         models on the segment after it.\n\n\
         | {key} | co-evolutions (of {}) | terminal final | terminal start | terminal over windows | mean LCP | global after (pooled) | wall per run (s) |\n\
         |---:|---:|---|---|---|---|---|---:|\n",
        r.experiment,
        if r.tuning { " on its tuning seeds" } else { "" },
        r.method,
        r.replicates.len(),
        r.replicates,
        if r.missing.is_empty() {
            String::new()
        } else {
            format!("; not finished: {:?}", r.missing)
        },
        r.windows
    );
    let mut csv = String::from("kind,what,mean,lo,hi,n,verdict\n");
    for v in &r.values {
        md.push_str(&format!(
            "| {} | {:.1} | {} | {} | {} | {} | {} | {:.0} |\n",
            v.value,
            v.global_evolutions,
            est(&v.final_terminal),
            est(&v.start_terminal),
            est(&v.mean_after),
            est(&v.mean_lcp),
            est(&v.global_after),
            v.seconds
        ));
        for (what, e) in [
            ("final_terminal", &v.final_terminal),
            ("start_terminal", &v.start_terminal),
            ("mean_after", &v.mean_after),
            ("mean_lcp", &v.mean_lcp),
            ("global_after", &v.global_after),
        ] {
            csv.push_str(&format!(
                "value,{key}={} {what},{:.4},{:.4},{:.4},{},\n",
                v.value, e.mean, e.lo, e.hi, e.n
            ));
        }
        csv.push_str(&format!(
            "value,{key}={} global_evolutions,{:.4},,,{},\n",
            v.value,
            v.global_evolutions,
            r.replicates.len()
        ));
    }
    paired_section(&mut md, &mut csv, &r.paired);
    write_files(
        out,
        &[
            ("sweep_replicates.md", &md),
            ("sweep_replicates.csv", &csv),
            (
                "sweep_replicates.json",
                &serde_json::to_string_pretty(r).expect("serialisable"),
            ),
        ],
    )?;
    plot(out, r)
}

/// Means with their 95 % half-widths against the value (`sweep_replicates.png`), and the paired
/// differences against the first value (`sweep_paired.png`), where every value is a number and
/// some replicate finished.
fn plot(out: &Path, r: &SweepReport) -> Result<()> {
    let Ok(xs) = r
        .values
        .iter()
        .map(|v| v.value.parse::<f64>())
        .collect::<std::result::Result<Vec<f64>, _>>()
    else {
        return Ok(());
    };
    if r.replicates.is_empty() {
        return Ok(());
    }
    let half = |e: &Estimate| match (e.hi - e.mean).is_finite() {
        true => e.hi - e.mean,
        false => 0.0,
    };
    let curve = |name: &str, f: &dyn Fn(&ValueRow) -> (f64, f64)| crate::plot::Curve {
        name: name.to_string(),
        points: xs
            .iter()
            .zip(&r.values)
            .map(|(&x, v)| {
                let (m, h) = f(v);
                (x, m, h)
            })
            .collect(),
    };
    let curves = [
        curve("terminal mAP@0.5, final models", &|v| {
            (v.final_terminal.mean, half(&v.final_terminal))
        }),
        curve("terminal mAP@0.5, over the windows", &|v| {
            (v.mean_after.mean, half(&v.mean_after))
        }),
        curve("starting models (no evolution)", &|v| {
            (v.start_terminal.mean, half(&v.start_terminal))
        }),
        curve("co-evolutions / windows", &|v| {
            (v.global_evolutions / r.windows.max(1) as f64, 0.0)
        }),
    ];
    let path = out.join("sweep_replicates.png");
    crate::plot::curves(
        &path,
        &format!(
            "{}: {} over {} replicate(s), 95 % intervals",
            r.experiment,
            r.key,
            r.replicates.len()
        ),
        &r.key,
        "mAP@0.5; share of windows that co-evolved",
        &curves,
    )
    .map_err(|x| EvolveError::BadInput(format!("plotting {}: {x}", path.display())))?;
    // What can tell: each value minus the first on the same replicates.
    let names = [
        "final terminal mean",
        "terminal mean over the windows",
        "mean LCP",
    ];
    let diffs: Vec<crate::plot::Curve> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            curve(n, &|v| {
                let d = &v.versus_first[i];
                match d.mean.is_finite() {
                    true => (d.mean, half(d)),
                    false => (0.0, 0.0),
                }
            })
        })
        .collect();
    let path = out.join("sweep_paired.png");
    crate::plot::curves(
        &path,
        &format!(
            "{}: each {} minus {} = {}, paired over {} replicate(s), 95 % intervals",
            r.experiment,
            r.key,
            r.key,
            r.values[0].value,
            r.replicates.len()
        ),
        &r.key,
        "difference in mAP@0.5 / LCP",
        &diffs,
    )
    .map_err(|x| EvolveError::BadInput(format!("plotting {}: {x}", path.display())))
}
