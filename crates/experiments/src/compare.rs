//! Every method on the same experiment (Table 4) and one parameter swept over values
//! (Fig. 11). Each run goes to its own folder and is resumed there (`run --resume`), so an
//! interrupted comparison continues with the run it was in; a finished run (its
//! `summary.json` present) is read back, not redone.
//!
//! An ordering is claimed only where the 95 % intervals of the final terminal mean (the
//! bootstrap of `eval::mean_map50_with_ci`) are disjoint; otherwise the table says "within
//! noise".

use crate::evolution::run;
use nestevo_evolve::config::{apply_overrides, Experiment};
use nestevo_evolve::error::{EvolveError, Result};
use nestevo_evolve::method::Method;
use nestevo_evolve::run::{RunOptions, Summary, WindowRecord};
use serde::Serialize;
use std::path::{Path, PathBuf};

fn read_json<T: serde::de::DeserializeOwned>(p: &Path) -> Result<T> {
    let text = std::fs::read_to_string(p)
        .map_err(|x| EvolveError::BadInput(format!("reading {}: {x}", p.display())))?;
    serde_json::from_str(&text).map_err(|x| EvolveError::BadInput(format!("{}: {x}", p.display())))
}

/// Runs (or reads back) one method of `exp` in `dir`.
pub fn run_or_read(
    exp: &Experiment,
    method: Method,
    dir: &Path,
    device: tch::Device,
    progress: bool,
) -> Result<(Summary, Vec<WindowRecord>)> {
    let done = dir.join("summary.json");
    let summary = match done.is_file() {
        true => {
            // A finished run is read back as it is; say so where its experiment differs.
            let made = dir.join("experiment.toml");
            if let Ok(text) = std::fs::read_to_string(&made) {
                let then =
                    nestevo_evolve::config::parse_experiment(&text, &made.display().to_string())?;
                let diff = nestevo_evolve::config::differences(&then, exp);
                if !diff.is_empty() {
                    eprintln!(
                        "{}: read back a finished run whose experiment differs from this one \
                         in {} (delete the folder to rerun it)",
                        dir.display(),
                        diff.join(", ")
                    );
                }
            }
            read_json(&done)?
        }
        false => run(&RunOptions {
            exp: exp.clone(),
            method,
            out: dir.to_path_buf(),
            device,
            resume: true,
            progress,
        })?,
    };
    Ok((summary, read_json(&dir.join("windows.json"))?))
}

#[derive(Debug, Clone, Serialize)]
pub struct CompareRow {
    pub method: Method,
    pub final_terminal_map50: f64,
    pub lo: f64,
    pub hi: f64,
    /// Over windows and terminals: the new models on the segment after each window.
    pub mean_map50_after: f64,
    pub mean_lcp: f64,
    pub global_map50_before: f64,
    pub global_before_lo: f64,
    pub global_before_hi: f64,
    pub global_map50_after: f64,
    pub global_after_lo: f64,
    pub global_after_hi: f64,
    pub global_mean_before: f64,
    pub global_mean_before_lo: f64,
    pub global_mean_before_hi: f64,
    pub global_mean_after: f64,
    pub global_mean_after_lo: f64,
    pub global_mean_after_hi: f64,
    pub global_evolutions: usize,
    pub seconds: f64,
    /// Against the first method of the comparison: "above", "below" or "within noise".
    pub versus_first: String,
}

/// Every method in `methods` on `exp`, in `out/<method>/`; writes `table4.{md,json,csv}` and
/// `map_over_time.png` in `out`.
pub fn compare(
    exp: &Experiment,
    methods: &[Method],
    out: &Path,
    device: tch::Device,
    progress: bool,
) -> Result<Vec<CompareRow>> {
    let mut runs = Vec::new();
    for &m in methods {
        if progress {
            eprintln!("method {m}: {}", out.join(m.name()).display());
        }
        runs.push((
            m,
            run_or_read(exp, m, &out.join(m.name()), device, progress)?,
        ));
    }
    let first = &runs[0].1 .0;
    let rows: Vec<CompareRow> = runs
        .iter()
        .map(|(m, (s, _))| CompareRow {
            method: *m,
            final_terminal_map50: s.final_terminal_map50,
            lo: s.final_terminal_map50_lo,
            hi: s.final_terminal_map50_hi,
            mean_map50_after: s.mean_map50_after,
            mean_lcp: s.mean_lcp,
            global_map50_before: s.global_map50_before,
            global_before_lo: s.global_map50_before_lo,
            global_before_hi: s.global_map50_before_hi,
            global_map50_after: s.global_map50_after,
            global_after_lo: s.global_map50_after_lo,
            global_after_hi: s.global_map50_after_hi,
            global_mean_before: s.global_mean_map50_before,
            global_mean_before_lo: s.global_mean_map50_before_lo,
            global_mean_before_hi: s.global_mean_map50_before_hi,
            global_mean_after: s.global_mean_map50_after,
            global_mean_after_lo: s.global_mean_map50_after_lo,
            global_mean_after_hi: s.global_mean_map50_after_hi,
            global_evolutions: s.global_evolutions,
            seconds: s.seconds,
            versus_first: if std::ptr::eq(s, first) {
                "-".into()
            } else if s.final_terminal_map50_hi < first.final_terminal_map50_lo {
                format!("{} above", methods[0])
            } else if s.final_terminal_map50_lo > first.final_terminal_map50_hi {
                format!("{} below", methods[0])
            } else {
                "within noise".into()
            },
        })
        .collect();
    let mut md = format!(
        "Experiment `{}`: {} terminals, {} windows of {} s. Terminal mAP@0.5: the mean over \
         terminals of each final model on the segment after the run (frames no model saw), 95 % \
         bootstrap interval of the mean. Global: the original and the final global model on \
         the terminals' joint post-run frames (pooled), and averaged over the terminals' frames \
         (mean).\n\n\
         | method | terminal mAP@0.5 (final) | mean over windows | mean LCP | global before (pooled) | global after (pooled) | global before (mean) | global after (mean) | co-evolutions | vs {} | wall (s) |\n\
         |---|---|---:|---:|---|---|---|---|---:|---|---:|\n",
        exp.name,
        exp.terminals.len(),
        exp.windows.count,
        exp.windows.t_total_s,
        methods[0]
    );
    let mut csv = String::from(
        "method,final_terminal_map50,lo,hi,mean_map50_after,mean_lcp,global_before,global_after,global_after_lo,global_after_hi,global_evolutions,seconds\n",
    );
    for r in &rows {
        md.push_str(&format!(
            "| {} | {:.3} [{:.3}, {:.3}] | {:.3} | {:.3} | {:.3} [{:.3}, {:.3}] | {:.3} [{:.3}, {:.3}] | {:.3} [{:.3}, {:.3}] | {:.3} [{:.3}, {:.3}] | {} | {} | {:.0} |\n",
            r.method,
            r.final_terminal_map50,
            r.lo,
            r.hi,
            r.mean_map50_after,
            r.mean_lcp,
            r.global_map50_before,
            r.global_before_lo,
            r.global_before_hi,
            r.global_map50_after,
            r.global_after_lo,
            r.global_after_hi,
            r.global_mean_before,
            r.global_mean_before_lo,
            r.global_mean_before_hi,
            r.global_mean_after,
            r.global_mean_after_lo,
            r.global_mean_after_hi,
            r.global_evolutions,
            r.versus_first,
            r.seconds
        ));
        csv.push_str(&format!(
            "{},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{},{:.1}\n",
            r.method,
            r.final_terminal_map50,
            r.lo,
            r.hi,
            r.mean_map50_after,
            r.mean_lcp,
            r.global_map50_before,
            r.global_map50_after,
            r.global_after_lo,
            r.global_after_hi,
            r.global_evolutions,
            r.seconds
        ));
    }
    let w = |name: &str, text: &str| -> Result<()> {
        Ok(nestevo_core::error::write_atomic(
            &out.join(name),
            text.as_bytes(),
        )?)
    };
    w("table4.md", &md)?;
    w("table4.csv", &csv)?;
    w(
        "table4.json",
        &serde_json::to_string_pretty(&rows).expect("serialisable"),
    )?;
    let curves: Vec<(Method, &[WindowRecord])> =
        runs.iter().map(|(m, (_, r))| (*m, r.as_slice())).collect();
    crate::evolve_plot::terminal_curves(&out.join("map_over_time.png"), exp, &curves)?;
    Ok(rows)
}

#[derive(Debug, Clone, Serialize)]
pub struct SweepRow {
    pub value: String,
    pub global_evolutions: usize,
    pub final_terminal_map50: f64,
    pub lo: f64,
    pub hi: f64,
    pub mean_map50_after: f64,
    pub mean_lcp: f64,
    pub seconds: f64,
}

/// `key` (an experiment field, as `--set` takes it) over `values`, one run of `method` each
/// in `out/<key>=<value>/`; writes `sweep.{md,csv,json}` and `sweep.png` in `out`.
pub fn sweep(
    exp: &Experiment,
    method: Method,
    key: &str,
    values: &[String],
    out: &Path,
    device: tch::Device,
    progress: bool,
) -> Result<Vec<SweepRow>> {
    let mut rows = Vec::new();
    for v in values {
        // Validated as the whole experiment, as every `--set` is.
        let e = apply_overrides(exp, &[format!("{key}={v}")], "--sweep")?;
        let dir: PathBuf = out.join(format!("{key}={v}"));
        if progress {
            eprintln!("{key} = {v}: {}", dir.display());
        }
        let (s, _) = run_or_read(&e, method, &dir, device, progress)?;
        rows.push(SweepRow {
            value: v.clone(),
            global_evolutions: s.global_evolutions,
            final_terminal_map50: s.final_terminal_map50,
            lo: s.final_terminal_map50_lo,
            hi: s.final_terminal_map50_hi,
            mean_map50_after: s.mean_map50_after,
            mean_lcp: s.mean_lcp,
            seconds: s.seconds,
        });
    }
    let mut md = format!(
        "Experiment `{}`, method {method}, {key} swept.\n\n| {key} | global evolutions | terminal mAP@0.5 (final) | mean over windows | mean LCP | wall (s) |\n|---:|---:|---|---:|---:|---:|\n",
        exp.name
    );
    let mut csv = format!(
        "{key},global_evolutions,final_terminal_map50,lo,hi,mean_map50_after,mean_lcp,seconds\n"
    );
    for r in &rows {
        md.push_str(&format!(
            "| {} | {} | {:.3} [{:.3}, {:.3}] | {:.3} | {:.3} | {:.0} |\n",
            r.value,
            r.global_evolutions,
            r.final_terminal_map50,
            r.lo,
            r.hi,
            r.mean_map50_after,
            r.mean_lcp,
            r.seconds
        ));
        csv.push_str(&format!(
            "{},{},{:.4},{:.4},{:.4},{:.4},{:.4},{:.1}\n",
            r.value,
            r.global_evolutions,
            r.final_terminal_map50,
            r.lo,
            r.hi,
            r.mean_map50_after,
            r.mean_lcp,
            r.seconds
        ));
    }
    let w = |name: &str, text: &str| -> Result<()> {
        Ok(nestevo_core::error::write_atomic(
            &out.join(name),
            text.as_bytes(),
        )?)
    };
    w("sweep.md", &md)?;
    w("sweep.csv", &csv)?;
    w(
        "sweep.json",
        &serde_json::to_string_pretty(&rows).expect("serialisable"),
    )?;
    if let Ok(xs) = rows
        .iter()
        .map(|r| r.value.parse::<f64>())
        .collect::<std::result::Result<Vec<f64>, _>>()
    {
        let series = vec![
            (
                "terminal mAP@0.5 (final)".to_string(),
                xs.iter()
                    .zip(&rows)
                    .map(|(&x, r)| (x, r.final_terminal_map50))
                    .collect(),
            ),
            (
                "global evolutions / windows".to_string(),
                xs.iter()
                    .zip(&rows)
                    .map(|(&x, r)| {
                        (
                            x,
                            r.global_evolutions as f64 / exp.windows.count.max(1) as f64,
                        )
                    })
                    .collect(),
            ),
        ];
        crate::evolve_plot::lines(
            &out.join("sweep.png"),
            &format!("{} sweep of {key}", exp.name),
            key,
            "",
            &series,
        )?;
    }
    Ok(rows)
}
