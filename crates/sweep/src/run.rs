//! Running a sweep (or one shard of it) into a CSV, resuming one that was cut short, merging
//! shards, and writing the Pareto front beside the results.

use super::accuracy::Score;
use super::csv::{header, Row};
use super::grid::{Grid, Shard};
use super::pareto::pareto_front;
use super::perf::metrics;
use super::plot::plot;
use super::SweepError;
use nestevo_arch::{apply_overrides, check_override_form, ArchSpec};
use nestevo_model::ModelDesc;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What to sweep.
pub struct SweepConfig {
    pub arch: ArchSpec,
    /// How the arch was named (a path or a preset), in the metadata and in invalid points'
    /// reasons.
    pub arch_source: String,
    pub grid: Grid,
    pub models: Vec<ModelDesc>,
    pub shard: Shard,
    /// Points evaluated (in parallel) between two appends to the CSV.
    pub chunk: usize,
    pub progress: bool,
    /// An accuracy score per valid point (bit-faithful error, detector mAP), when asked.
    pub accuracy: Option<Box<dyn Score>>,
}

/// The sweep's identity, beside its CSV (`OUT.meta.json`): a resume or a merge goes on only
/// with the same arch, grid and models.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub format: String,
    pub arch: String,
    /// FNV-1a of the arch description as parsed (a changed file is a different sweep).
    pub arch_hash: String,
    pub grid: Vec<String>,
    /// `name#hash` of each model description.
    pub models: Vec<String>,
    pub points: u64,
    pub shard: String,
    /// The score (`metric: frames, calibration, noise`; "" without one).
    pub accuracy: String,
    /// Whether the score is better higher (mAP) or lower (an error).
    #[serde(default)]
    pub higher_is_better: bool,
}

const FORMAT: &str = "nestevo-sweep 1";

fn fnv(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

impl Meta {
    pub fn of(cfg: &SweepConfig) -> Meta {
        Meta {
            format: FORMAT.into(),
            arch: cfg.arch_source.clone(),
            arch_hash: fnv(&toml::to_string(&cfg.arch).expect("an arch serialises")),
            grid: cfg.grid.axes.iter().map(|a| a.canonical()).collect(),
            models: cfg
                .models
                .iter()
                .map(|m| format!("{}#{}", m.name, fnv(&m.to_toml())))
                .collect(),
            points: cfg.grid.len(),
            shard: format!("{}/{}", cfg.shard.index, cfg.shard.count),
            accuracy: cfg
                .accuracy
                .as_ref()
                .map_or(String::new(), |a| format!("{}: {}", a.metric(), a.id())),
            higher_is_better: cfg.accuracy.as_ref().is_some_and(|a| a.higher_is_better()),
        }
    }

    fn read(path: &Path) -> Result<Meta, SweepError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            SweepError::file(path, format!("cannot read the sweep's metadata: {e}"))
        })?;
        serde_json::from_str(&text)
            .map_err(|e| SweepError::file(path, format!("not a sweep metadata file: {e}")))
    }

    fn shard(&self) -> Shard {
        Shard::parse(&self.shard).unwrap_or(Shard::WHOLE)
    }
}

/// Where a sweep's files go, from its CSV path.
pub fn meta_path(out: &Path) -> PathBuf {
    PathBuf::from(format!("{}.meta.json", out.display()))
}
pub fn pareto_csv_path(out: &Path) -> PathBuf {
    out.with_extension("pareto.csv")
}
pub fn pareto_png_path(out: &Path) -> PathBuf {
    out.with_extension("pareto.png")
}

#[derive(Debug, Clone, Serialize)]
pub struct SweepOutcome {
    /// Grid points in this shard.
    pub points: u64,
    /// Points already in the CSV when this run started (resumed).
    pub resumed: u64,
    pub evaluated: u64,
    pub rows: usize,
    pub invalid_rows: usize,
    pub front: usize,
    pub seconds: f64,
    pub csv: PathBuf,
    pub pareto_csv: PathBuf,
    pub plot: Option<PathBuf>,
    /// Why there is no plot, if there is none.
    pub plot_error: Option<String>,
}

fn keys(grid: &Grid) -> Vec<String> {
    grid.axes.iter().map(|a| a.key.clone()).collect()
}

fn eval_point(cfg: &SweepConfig, p: u64) -> Vec<Row> {
    let coords = cfg.grid.coords(p);
    let values: Vec<String> = coords
        .iter()
        .zip(&cfg.grid.axes)
        .map(|(&v, a)| a.values[v].clone())
        .collect();
    let row = |model: &str, status: &str, m, reason: String| Row {
        point: p,
        values: values.clone(),
        model: model.to_string(),
        status: status.to_string(),
        metrics: m,
        score: None,
        reason,
    };
    match apply_overrides(&cfg.arch, &cfg.grid.sets(p), &cfg.arch_source) {
        Err(e) => cfg
            .models
            .iter()
            .map(|m| row(&m.name, "invalid", None, e.to_string()))
            .collect(),
        Ok(spec) => cfg
            .models
            .iter()
            .enumerate()
            .map(|(k, m)| match metrics(&spec, m) {
                Ok(x) => match &cfg.accuracy {
                    None => row(&m.name, "ok", Some(x), String::new()),
                    Some(acc) => match acc.score(k, m, &spec) {
                        Ok(err) => Row {
                            score: Some(err),
                            ..row(&m.name, "ok", Some(x), String::new())
                        },
                        Err(e) => row(&m.name, "error", None, e),
                    },
                },
                Err(e) => row(&m.name, "error", None, e.to_string()),
            })
            .collect(),
    }
}

/// The complete points at the head of an existing CSV: how many, and the byte length they
/// take (a partly written chunk after them is cut off).
fn resume_point(
    path: &Path,
    text: &str,
    head: &str,
    cfg: &SweepConfig,
) -> Result<(u64, usize), SweepError> {
    if !text.starts_with(head) {
        return Err(SweepError::file(
            path,
            "its header is not this sweep's; remove it or choose another --out",
        ));
    }
    let per = cfg.models.len();
    let k = cfg.grid.axes.len();
    let mut expected = cfg.shard.points(cfg.grid.len());
    let (mut done, mut keep) = (0u64, head.len());
    let mut pos = head.len();
    let mut in_point = 0usize;
    let mut want = expected.next();
    for (n, line) in text[head.len()..].split_inclusive('\n').enumerate() {
        // Only the last line can be cut off by a crash mid-append; a complete line that is
        // not the row expected here was edited or damaged, and cutting the file there would
        // lose every point after it.
        if !line.ends_with('\n') {
            break;
        }
        let wanted = want.map(|p| (p, cfg.grid.values(p), &cfg.models[in_point].name));
        match (Row::parse(line, k), wanted) {
            (Some(row), Some((p, values, model)))
                if row.point == p && row.values == values && row.model == *model => {}
            (_, wanted) => {
                let expected = match wanted {
                    Some((p, values, model)) => {
                        format!("point {p} ({}) of model `{model}`", values.join(", "))
                    }
                    None => "no more rows (the shard is complete)".to_string(),
                };
                return Err(SweepError::file(
                    path,
                    format!(
                        "line {} `{}` is not the row expected there, {expected}: the file was \
                         edited or damaged; mend or remove that line, or choose another --out",
                        n + 2,
                        line.trim_end()
                    ),
                ));
            }
        }
        pos += line.len();
        in_point += 1;
        if in_point == per {
            in_point = 0;
            done += 1;
            keep = pos;
            want = expected.next();
        }
    }
    Ok((done, keep))
}

/// Runs the shard's points not yet in `out`, appending rows a chunk at a time, then writes
/// the Pareto front CSV and plot.
pub fn run_sweep(cfg: &SweepConfig, out: &Path) -> Result<SweepOutcome, SweepError> {
    let t0 = Instant::now();
    let mut names: Vec<&str> = cfg.models.iter().map(|m| m.name.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) || names.is_empty() {
        return Err(SweepError::Grid {
            grid: String::new(),
            message: "give one or more --model, each with a different name".into(),
        });
    }
    // A key the description does not have, or a value not of its type, would make every row
    // invalid: refused before anything runs. Values that fail the description's checks stay
    // rows with their reason (they may be valid beside another axis's value).
    for a in &cfg.grid.axes {
        for v in &a.values {
            check_override_form(&cfg.arch, &format!("{}={v}", a.key), &cfg.arch_source).map_err(
                |e| SweepError::Grid {
                    grid: a.canonical(),
                    message: e.to_string(),
                },
            )?;
        }
    }
    let meta = Meta::of(cfg);
    let head = header(&keys(&cfg.grid));
    let mpath = meta_path(out);
    let total = cfg.shard.len(cfg.grid.len());
    let resumed = if out.exists() {
        let old = Meta::read(&mpath)?;
        if old != meta {
            return Err(SweepError::file(
                out,
                format!(
                    "exists from a different sweep ({} says {}, this one is {}); remove it or \
                     choose another --out",
                    mpath.display(),
                    serde_json::to_string(&old).unwrap_or_default(),
                    serde_json::to_string(&meta).unwrap_or_default()
                ),
            ));
        }
        let text = std::fs::read_to_string(out)
            .map_err(|e| SweepError::file(out, format!("cannot read: {e}")))?;
        let (done, keep) = resume_point(out, &text, &head, cfg)?;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(out)
            .map_err(|e| SweepError::file(out, format!("cannot open: {e}")))?;
        f.set_len(keep as u64)
            .map_err(|e| SweepError::file(out, format!("cannot cut off a partial chunk: {e}")))?;
        done
    } else {
        write_atomic(
            &mpath,
            serde_json::to_string_pretty(&meta)
                .expect("serialises")
                .as_bytes(),
        )?;
        write_atomic(out, head.as_bytes())?;
        0
    };
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(out)
        .map_err(|e| SweepError::file(out, format!("cannot open for appending: {e}")))?;
    let bar = if cfg.progress {
        indicatif::ProgressBar::new(total)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} points {per_sec} eta {eta}")
            .expect("a valid template"),
    );
    bar.set_position(resumed);
    let mut todo = cfg
        .shard
        .points(cfg.grid.len())
        .skip(resumed as usize)
        .peekable();
    let chunk = cfg.chunk.max(1);
    while todo.peek().is_some() {
        let pts: Vec<u64> = todo.by_ref().take(chunk).collect();
        let rows: Vec<Vec<Row>> = pts.par_iter().map(|&p| eval_point(cfg, p)).collect();
        let mut text = String::with_capacity(rows.len() * 160);
        for r in rows.iter().flatten() {
            text += &r.line();
        }
        file.write_all(text.as_bytes())
            .and_then(|_| file.flush())
            .map_err(|e| SweepError::file(out, format!("cannot append: {e}")))?;
        bar.inc(pts.len() as u64);
    }
    bar.finish_and_clear();
    drop(file);
    let mut o = finish(
        out,
        &keys(&cfg.grid),
        &cfg.arch_source,
        meta.higher_is_better,
    )?;
    o.points = total;
    o.resumed = resumed;
    o.evaluated = total - resumed;
    o.seconds = t0.elapsed().as_secs_f64();
    Ok(o)
}

/// Reads the results back and writes the Pareto front CSV and its plot.
fn finish(
    out: &Path,
    keys: &[String],
    arch: &str,
    higher_is_better: bool,
) -> Result<SweepOutcome, SweepError> {
    let text = std::fs::read_to_string(out)
        .map_err(|e| SweepError::file(out, format!("cannot read: {e}")))?;
    let head = header(keys);
    let rows: Vec<Row> = text[head.len().min(text.len())..]
        .lines()
        .enumerate()
        .map(|(i, l)| {
            Row::parse(l, keys.len())
                .ok_or_else(|| SweepError::file(out, format!("line {}: not a sweep row", i + 2)))
        })
        .collect::<Result<_, _>>()?;
    let front = pareto_front(&rows, higher_is_better);
    let mut pcsv = head.clone();
    for &i in &front {
        pcsv += &rows[i].line();
    }
    let pareto_csv = pareto_csv_path(out);
    write_atomic(&pareto_csv, pcsv.as_bytes())?;
    let png = pareto_png_path(out);
    let tmp = png.with_file_name(format!(
        ".tmp-{}",
        png.file_name().expect("a file name").to_string_lossy()
    ));
    let title = format!(
        "{arch}: {} valid of {} rows; front over energy, latency, area{}",
        rows.iter().filter(|r| r.status == "ok").count(),
        rows.len(),
        if rows.iter().any(|r| r.score.is_some()) {
            ", error"
        } else {
            ""
        }
    );
    let (plot_path, plot_error) = match plot(&tmp, &title, &rows, &front)
        .and_then(|_| std::fs::rename(&tmp, &png).map_err(|e| e.to_string()))
    {
        Ok(()) => (Some(png), None),
        Err(e) => (None, Some(e)),
    };
    Ok(SweepOutcome {
        points: 0,
        resumed: 0,
        evaluated: 0,
        rows: rows.len(),
        invalid_rows: rows.iter().filter(|r| r.status != "ok").count(),
        front: front.len(),
        seconds: 0.0,
        csv: out.to_path_buf(),
        pareto_csv,
        plot: plot_path,
        plot_error,
    })
}

/// Joins the CSVs of shards 0..N of one sweep into `out`, in point order (the bytes of the
/// unsharded run's CSV), with its metadata and Pareto front.
pub fn merge(inputs: &[PathBuf], out: &Path) -> Result<SweepOutcome, SweepError> {
    let t0 = Instant::now();
    let Some(first) = inputs.first() else {
        return Err(SweepError::file(out, "no shard files to merge"));
    };
    let metas = inputs
        .iter()
        .map(|p| Meta::read(&meta_path(p)))
        .collect::<Result<Vec<_>, _>>()?;
    let m0 = &metas[0];
    let n = m0.shard().count;
    let mut seen = vec![false; n as usize];
    for (p, m) in inputs.iter().zip(&metas) {
        let same = Meta {
            shard: m0.shard.clone(),
            ..m.clone()
        };
        if &same != m0 {
            return Err(SweepError::file(
                p,
                format!("is from a different sweep than {}", first.display()),
            ));
        }
        let s = m.shard();
        if s.count != n || seen[s.index as usize] {
            return Err(SweepError::file(
                p,
                format!("shard {} does not fit (shards of {n}, each once)", m.shard),
            ));
        }
        seen[s.index as usize] = true;
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(SweepError::file(
            out,
            format!("shard {missing}/{n} is missing from the files to merge"),
        ));
    }
    let keys: Vec<String> = m0
        .grid
        .iter()
        .map(|g| g.split_once('=').map_or(g.clone(), |(k, _)| k.to_string()))
        .collect();
    let head = header(&keys);
    let grid = Grid::parse(&m0.grid)?;
    let per = m0.models.len();
    let mut by_shard: Vec<Vec<String>> = vec![Vec::new(); n as usize];
    for (p, m) in inputs.iter().zip(&metas) {
        let text = std::fs::read_to_string(p)
            .map_err(|e| SweepError::file(p, format!("cannot read: {e}")))?;
        if !text.starts_with(&head) {
            return Err(SweepError::file(p, "its header is not the sweep's"));
        }
        let s = m.shard();
        let lines: Vec<String> = text[head.len()..]
            .split_inclusive('\n')
            .map(String::from)
            .collect();
        let want = s.len(m0.points) as usize * per;
        if lines.last().is_some_and(|l| !l.ends_with('\n')) {
            return Err(SweepError::file(
                p,
                format!(
                    "its last row (line {}) is cut off: finish the shard first (rerun its sweep \
                     command, which resumes)",
                    lines.len() + 1
                ),
            ));
        }
        if lines.len() != want {
            return Err(SweepError::file(
                p,
                format!(
                    "holds {} rows, the complete shard has {want}: finish it first (rerun its \
                     sweep command, which resumes)",
                    lines.len()
                ),
            ));
        }
        by_shard[s.index as usize] = lines;
    }
    let mut text = head.clone();
    for pt in 0..m0.points {
        let lines = &by_shard[(pt % n) as usize];
        let at = (pt / n) as usize * per;
        let values = grid.values(pt);
        for l in &lines[at..at + per] {
            let row = Row::parse(l, keys.len());
            if row
                .as_ref()
                .is_none_or(|r| r.point != pt || r.values != values)
            {
                return Err(SweepError::file(
                    &inputs[(pt % n) as usize],
                    format!(
                        "expected point {pt} ({}), found `{}`",
                        values.join(", "),
                        l.trim_end()
                    ),
                ));
            }
            text += l;
        }
    }
    let merged = Meta {
        shard: "0/1".into(),
        ..m0.clone()
    };
    write_atomic(
        &meta_path(out),
        serde_json::to_string_pretty(&merged)
            .expect("serialises")
            .as_bytes(),
    )?;
    write_atomic(out, text.as_bytes())?;
    let arch = m0.arch.clone();
    let mut o = finish(out, &keys, &arch, m0.higher_is_better)?;
    o.points = m0.points;
    o.seconds = t0.elapsed().as_secs_f64();
    Ok(o)
}

/// Atomically (`error::write_atomic`), its folder made if need be.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SweepError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| SweepError::file(path, format!("cannot create its folder: {e}")))?;
    }
    nestevo_core::error::write_atomic(path, bytes)
        .map_err(|e| SweepError::file(path, e.to_string()))
}
