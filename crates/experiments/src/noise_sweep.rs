//! Noise robustness (the paper's Fig. 15) as paired comparisons: detectors that differ only in
//! noise training, each scored at every noise coefficient in up to four ways, on the same
//! frames and under the same noise draws, so that what two models (or two evaluation modes)
//! share cancels in their difference.
//!
//! - `trainer`: the trainer's Eq. 18-20 on the weights the chip holds (batch-norm folded, the
//!   folded tensor's range, `train::noise::NoiseSite::Folded`), drawn once per draw (one device
//!   state for every frame, as programming gives), LibTorch forward.
//! - `trainer-raw`: the same with the older law on the unfolded conv weights.
//! - `trainer-cell`: the trainer's cell-level law (`NoiseSite::Cell`: the folded weights
//!   quantised and sliced as the accelerator stores them, every cell drawn), LibTorch forward.
//! - `cim-weight`: bit-faithful, Eq. 18-20 on the folded weights before quantisation.
//! - `cim-cell`: bit-faithful, the same law on every cell's conductance.
//!
//! Draw d uses the seed `seed + d` for every model and mode (each model's noise in a mode comes
//! from the same random numbers, scaled by its own ranges). mu = 0 is one noiseless point per
//! model and mode. The frames are spread over several streams (`spread`), ids made unique per
//! stream. Every finished point is written to the CSV at once (atomically, `points`); a rerun
//! skips the points already there, and refuses a file made on other frames. The summary pairs
//! the draws: model A - model B per (mode, mu), and mode X - mode Y per (model, mu), each as a
//! mean with its 95 % t interval (`eval::paired`). Also the noise-injected fine-tune the
//! comparison needs (`finetune`).

use crate::plot::{curves, Curve};
use crate::points::PointsFile;
use nestevo_arch::{ArchSpec, WeightScale};
use nestevo_cim::{Backend, CimNetwork, NoiseMode, NoiseSpec};
use nestevo_core::error::write_atomic;
use nestevo_couple::{batch_from_frames, load_checkpoint};
use nestevo_data::{Frame, StreamId};
use nestevo_eval::decode::{decode, DecodeConfig, Heads};
use nestevo_eval::paired::{mean_interval, paired, Estimate};
use nestevo_eval::{evaluate, ground_truth, Detection, HeldOut};
use nestevo_evolve::error::{EvolveError, Result};
use nestevo_train::checkpoint::{load, save, TrainState};
use nestevo_train::evaluate::predict;
use nestevo_train::frames::FramePool;
use nestevo_train::noise::{NoiseSite, WeightNoise};
use nestevo_train::trainer::{train, Objective, TrainConfig};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// How a noisy model is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalMode {
    /// The trainer's Eq. 18-20 on the folded weights (the chip's), LibTorch forward.
    Trainer,
    /// The trainer's older law on the unfolded conv weights.
    TrainerRaw,
    /// The trainer's cell-level law on the folded weights' cells.
    TrainerCell,
    /// Bit-faithful, Eq. 18-20 on the weights before programming.
    Weight,
    /// Bit-faithful, Eq. 18-20 on every cell's conductance.
    Cell,
}

impl EvalMode {
    pub const ALL: [EvalMode; 5] = [
        EvalMode::Trainer,
        EvalMode::TrainerRaw,
        EvalMode::TrainerCell,
        EvalMode::Weight,
        EvalMode::Cell,
    ];
    pub fn name(self) -> &'static str {
        match self {
            EvalMode::Trainer => "trainer",
            EvalMode::TrainerRaw => "trainer-raw",
            EvalMode::TrainerCell => "trainer-cell",
            EvalMode::Weight => "cim-weight",
            EvalMode::Cell => "cim-cell",
        }
    }
    /// The trainer's noise site of a LibTorch mode; None for the bit-faithful ones.
    pub fn trainer_site(self) -> Option<NoiseSite> {
        match self {
            EvalMode::Trainer => Some(NoiseSite::Folded),
            EvalMode::TrainerRaw => Some(NoiseSite::Raw),
            EvalMode::TrainerCell => Some(NoiseSite::Cell),
            EvalMode::Weight | EvalMode::Cell => None,
        }
    }
}

impl std::str::FromStr for EvalMode {
    type Err = EvolveError;
    fn from_str(s: &str) -> Result<Self> {
        EvalMode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                EvolveError::BadInput(format!(
                    "evaluation mode `{s}`: allowed trainer, trainer-raw, trainer-cell, cim-weight, \
                     cim-cell"
                ))
            })
    }
}

/// `total` held-out frames spread over `streams` as evenly as the count allows (the first
/// `total % n` streams one more), each stream's set on the held-out seed `seed`.
pub fn spread(streams: &[StreamId], total: usize, seed: u64) -> Result<Vec<HeldOut>> {
    nestevo_core::check!(!streams.is_empty(), "give at least one stream");
    nestevo_core::check!(
        total >= streams.len(),
        "{total} frames over {} streams: at least one frame per stream",
        streams.len()
    );
    let n = streams.len();
    streams
        .iter()
        .enumerate()
        .map(|(k, &s)| {
            let f = total / n + usize::from(k < total % n);
            HeldOut::new(s, f)
                .with_seed(seed)
                .map_err(|e| EvolveError::BadInput(e.to_string()))
        })
        .collect()
}

/// One line naming a frame set (kept in the results file so a resume never mixes sets).
pub fn describe_frames(sets: &[HeldOut]) -> String {
    sets.iter()
        .map(|h| format!("{}:{}@{}", h.stream.name(), h.frames, h.seed))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The frames of every set rendered at `w` x `h`, ids made unique across streams (stream k's
/// frame i becomes k * 2^40 + i) so that one mAP pools them.
pub fn render_sets(sets: &[HeldOut], w: usize, h: usize) -> Result<Vec<Frame>> {
    let mut all = Vec::new();
    for (k, s) in sets.iter().enumerate() {
        for mut f in s
            .render(w, h)
            .map_err(|e| EvolveError::BadInput(e.to_string()))?
        {
            f.index += (k as u64) << 40;
            all.push(f);
        }
    }
    Ok(all)
}

pub struct NoiseSweep {
    /// (label, checkpoint) of each model compared; the first is model A of the paired table.
    pub models: Vec<(String, PathBuf)>,
    pub mus: Vec<f64>,
    pub modes: Vec<EvalMode>,
    pub draws: usize,
    pub seed: u64,
    /// Scored frames, one set per stream (`spread`).
    pub frames: Vec<HeldOut>,
    /// Calibration frames of the crossbar modes, spread over the same streams (next seed).
    pub calib_frames: usize,
    pub arch: ArchSpec,
    pub backend: Backend,
}

pub const COLUMNS: [&str; 7] = ["model", "mode", "mu", "draw", "seed", "map50", "seconds"];
/// The frame set's column; not a key, checked on resume.
const FRAMES_COLUMN: &str = "frames";

fn columns() -> Vec<&'static str> {
    let mut c = COLUMNS.to_vec();
    c.push(FRAMES_COLUMN);
    c
}

/// The frames rendered for one input size (w, h): the scored ones and the calibration ones.
type FrameCache = ((usize, usize), Vec<Frame>, Vec<Frame>);

/// Frames per forward of the crossbar modes: bounds the memory of im2col and the bit planes.
const CIM_BATCH: usize = 8;

/// mAP@0.5 of a checkpoint on the chip (weight- or cell-level noise from `noise`).
fn cim_map(
    path: &Path,
    s: &NoiseSweep,
    noise: NoiseSpec,
    frames: &[Frame],
    calib: &[Frame],
) -> Result<f64> {
    let fault = |e: nestevo_couple::CoupleError| EvolveError::BadInput(e.to_string());
    let (desc, tensors) = load_checkpoint(path, None).map_err(fault)?;
    let cim = |e: nestevo_cim::CimError| EvolveError::Fault(format!("{}: {e}", desc.source));
    let mut net = CimNetwork::new_on(&desc, &tensors, &s.arch, &noise, &s.backend).map_err(cim)?;
    let x = batch_from_frames(calib, &desc.name, desc.input)
        .map_err(|e| EvolveError::BadInput(e.to_string()))?;
    net.calibrate(x.view()).map_err(cim)?;
    let [_, h, w] = desc.input;
    let mut dets: Vec<Detection> = Vec::new();
    let mut dcfg = DecodeConfig::default();
    for chunk in frames.chunks(CIM_BATCH) {
        let x = batch_from_frames(chunk, &desc.name, desc.input)
            .map_err(|e| EvolveError::BadInput(e.to_string()))?;
        let ids: Vec<u64> = chunk.iter().map(|f| f.index).collect();
        let (outs, _) = net.forward_cim(x.view()).map_err(cim)?;
        let heads = Heads::from_outputs(outs).map_err(|e| EvolveError::Fault(e.to_string()))?;
        dcfg.stride = (h / heads.hm.dim().2) as f32;
        dets.extend(
            decode(&heads, &ids, (h, w), &dcfg).map_err(|e| EvolveError::Fault(e.to_string()))?,
        );
    }
    Ok(evaluate(&ground_truth(frames), &dets).map50)
}

/// The trainer's law at `site` (the cell site with the accelerator's weight and cell bits).
pub fn site_law(site: NoiseSite, mu: f64, arch: &ArchSpec) -> Result<WeightNoise> {
    Ok(match site {
        NoiseSite::Raw => WeightNoise::new(mu)?,
        NoiseSite::Folded => WeightNoise::folded(mu)?,
        NoiseSite::Cell => {
            WeightNoise::cell(mu, arch.data.weight_bits, arch.crossbar.bits_per_cell)?
                .with_column_scales(arch.data.weight_scale == WeightScale::Column)
        }
    })
}

/// mAP@0.5 of a checkpoint in LibTorch with the trainer's noise at `site`, drawn once.
fn trainer_map(path: &Path, law: WeightNoise, seed: u64, frames: &[Frame]) -> Result<f64> {
    let (mut m, _) = load(path, tch::Device::Cpu)?;
    if law.mu > 0.0 {
        m.noise = Some(law);
        m.fix_noise_draw(seed);
    }
    let dets = predict(&m, frames, 64)?;
    Ok(evaluate(&ground_truth(frames), &dets).map50)
}

/// Runs every point not yet in `out`, printing progress.
pub fn noise_sweep(s: &NoiseSweep, out: &Path) -> Result<PointsFile> {
    let fault = |e: nestevo_couple::CoupleError| EvolveError::BadInput(e.to_string());
    nestevo_core::check!(s.draws >= 1, "--draws must be at least 1");
    nestevo_core::check!(
        !s.models.is_empty(),
        "give at least one --checkpoint LABEL=PATH"
    );
    nestevo_core::check!(!s.frames.is_empty(), "no frames to score");
    for (l, _) in &s.models {
        nestevo_core::check!(
            !l.is_empty() && !l.contains(',') && !l.contains('='),
            "--checkpoint label `{l}`: a non-empty name without `,` or `=`"
        );
    }
    for &mu in &s.mus {
        nestevo_cim::noise::check_mu("mu", mu)?;
    }
    let frames_id = describe_frames(&s.frames);
    let mut file = PointsFile::open(out, &columns(), 4).map_err(fault)?;
    if let Some(r) = file
        .rows()
        .iter()
        .find(|r| r.last().map(String::as_str) != Some(frames_id.as_str()))
    {
        return Err(EvolveError::BadInput(format!(
            "results file {}: its points were scored on frames `{}`, this sweep's are `{frames_id}` \
             (move it away or pick another --out)",
            out.display(),
            r.last().cloned().unwrap_or_default()
        )));
    }
    let mut points = Vec::new();
    for &mode in &s.modes {
        for &mu in &s.mus {
            // Draw-major within a point so that an interrupted sweep has every model at the
            // same draws (the pairs are complete).
            for d in 0..if mu > 0.0 { s.draws } else { 1 } {
                for (label, path) in &s.models {
                    points.push((label, path, mode, mu, d));
                }
            }
        }
    }
    let n = points.len();
    // Rendered once per input size: every model of a comparison shares its frames.
    let mut cache: Option<FrameCache> = None;
    for (k, (label, path, mode, mu, d)) in points.into_iter().enumerate() {
        let key = vec![
            label.clone(),
            mode.name().to_string(),
            mu.to_string(),
            d.to_string(),
        ];
        if file.done(&key) {
            continue;
        }
        let t = std::time::Instant::now();
        let seed = s.seed + d as u64;
        let (desc, _) = load_checkpoint(path, None).map_err(fault)?;
        let [_, h, w] = desc.input;
        if cache.as_ref().is_none_or(|c| c.0 != (w, h)) {
            let calib_sets: Vec<HeldOut> = spread(
                &s.frames.iter().map(|f| f.stream).collect::<Vec<_>>(),
                s.calib_frames.max(s.frames.len()),
                s.frames[0].seed,
            )?
            .into_iter()
            .zip(&s.frames)
            .map(|(c, f)| f.calibration(c.frames))
            .collect();
            cache = Some((
                (w, h),
                render_sets(&s.frames, w, h)?,
                render_sets(&calib_sets, w, h)?,
            ));
        }
        let (_, frames, calib) = cache.as_ref().expect("set above");
        let map50 = if let Some(site) = mode.trainer_site() {
            trainer_map(path, site_law(site, mu, &s.arch)?, seed, frames)?
        } else {
            let nm = match (mu > 0.0, mode) {
                (false, _) => NoiseMode::None,
                (true, EvalMode::Weight) => NoiseMode::Weight,
                _ => NoiseMode::Cell,
            };
            let noise = NoiseSpec::from_flags(nm, mu, 0.0, seed)
                .map_err(|e| EvolveError::BadInput(e.to_string()))?;
            cim_map(path, s, noise, frames, calib)?
        };
        let secs = t.elapsed().as_secs_f64();
        let mut row = key;
        row.extend([
            seed.to_string(),
            format!("{map50:.5}"),
            format!("{secs:.2}"),
            frames_id.clone(),
        ]);
        file.push(row).map_err(fault)?;
        eprintln!(
            "[{}/{n}] {label} {} mu {mu} draw {d}: mAP@0.5 {map50:.4} ({secs:.1} s)",
            k + 1,
            mode.name()
        );
    }
    Ok(file)
}

/// One (model, mode, mu) cell: the mean over draws with its 95 % interval.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub model: String,
    pub mode: String,
    pub mu: f64,
    pub map50: Estimate,
}

/// A paired difference over the draws both sides have (same draw index, same seed).
#[derive(Debug, Clone, Serialize)]
pub struct PairedRow {
    /// "model" (A - B in one mode) or "mode" (X - Y for one model).
    pub kind: String,
    /// The model (kind "mode") or the mode (kind "model") both sides share.
    pub within: String,
    pub a: String,
    pub b: String,
    pub mu: f64,
    pub diff: Estimate,
    pub verdict: String,
    /// Noiseless mAP@0.5 of each side (mu 0 in the same mode, or the same model), if measured.
    pub clean_a: Option<f64>,
    pub clean_b: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub frames: String,
    pub cells: Vec<Cell>,
    pub paired: Vec<PairedRow>,
}

/// The draws' mAP of one (model, mode, mu), keyed by draw index.
fn draws_of(file: &PointsFile, model: &str, mode: &str, mu: f64) -> Vec<(usize, f64)> {
    file.rows()
        .iter()
        .filter(|r| r[0] == model && r[1] == mode && r[2].parse::<f64>().ok() == Some(mu))
        .map(|r| (r[3].parse().unwrap_or(usize::MAX), file.num(r, "map50")))
        .collect()
}

fn pair(a: &[(usize, f64)], b: &[(usize, f64)]) -> Estimate {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for (d, va) in a {
        if let Some((_, vb)) = b.iter().find(|(e, _)| e == d) {
            x.push(*va);
            y.push(*vb);
        }
    }
    paired(&x, &y)
}

/// The cells and the paired rows of a results file.
pub fn summary(file: &PointsFile) -> Summary {
    let mut models: Vec<String> = Vec::new();
    let mut modes: Vec<String> = Vec::new();
    let mut mus: Vec<f64> = Vec::new();
    for r in file.rows() {
        if !models.contains(&r[0]) {
            models.push(r[0].clone());
        }
        if !modes.contains(&r[1]) {
            modes.push(r[1].clone());
        }
        let mu: f64 = r[2].parse().unwrap_or(f64::NAN);
        if !mus.contains(&mu) {
            mus.push(mu);
        }
    }
    mus.sort_by(|a, b| a.total_cmp(b));
    let clean = |model: &str, mode: &str| draws_of(file, model, mode, 0.0).first().map(|p| p.1);
    let mut cells = Vec::new();
    for model in &models {
        for mode in &modes {
            for &mu in &mus {
                let v: Vec<f64> = draws_of(file, model, mode, mu)
                    .iter()
                    .map(|p| p.1)
                    .collect();
                if !v.is_empty() {
                    cells.push(Cell {
                        model: model.clone(),
                        mode: mode.clone(),
                        mu,
                        map50: mean_interval(&v),
                    });
                }
            }
        }
    }
    let mut rows = Vec::new();
    let mut push = |kind: &str, within: &str, a: &str, b: &str, mu: f64, e: Estimate, ca, cb| {
        if e.n > 0 {
            rows.push(PairedRow {
                kind: kind.into(),
                within: within.into(),
                a: a.into(),
                b: b.into(),
                mu,
                diff: e,
                verdict: e.verdict().into(),
                clean_a: ca,
                clean_b: cb,
            });
        }
    };
    for mode in &modes {
        for b in models.iter().skip(1) {
            let a = &models[0];
            for &mu in &mus {
                let e = pair(&draws_of(file, a, mode, mu), &draws_of(file, b, mode, mu));
                push("model", mode, a, b, mu, e, clean(a, mode), clean(b, mode));
            }
        }
    }
    for model in &models {
        for y in modes.iter().skip(1) {
            let x = &modes[0];
            for &mu in &mus {
                let e = pair(&draws_of(file, model, x, mu), &draws_of(file, model, y, mu));
                push("mode", model, x, y, mu, e, clean(model, x), clean(model, y));
            }
        }
    }
    let frames = file
        .rows()
        .first()
        .and_then(|r| r.last().cloned())
        .unwrap_or_default();
    Summary {
        frames,
        cells,
        paired: rows,
    }
}

fn half(e: &Estimate) -> f64 {
    if e.hi.is_finite() {
        (e.hi - e.lo) / 2.0
    } else {
        0.0
    }
}

/// Markdown tables: every cell (mean [95 % interval], n), then the paired differences. With
/// `plot_dir`, one plot per evaluation mode (`noise-<mode>.png`, each model's mean and
/// interval against mu) and one of the paired differences (`noise-paired.png`). With `json`,
/// the summary written there (atomically).
pub fn summarise(
    file: &PointsFile,
    plot_dir: Option<&Path>,
    json: Option<&Path>,
) -> Result<String> {
    let sm = summary(file);
    let mut mus: Vec<f64> = sm.cells.iter().map(|c| c.mu).collect();
    mus.sort_by(|a, b| a.total_cmp(b));
    mus.dedup();
    let mut s = format!("frames: {}\n\nmAP@0.5, mean over draws [95 % t interval] (n draws)\n\n| model | evaluation | ", sm.frames);
    s += &mus
        .iter()
        .map(|m| format!("mu {m}"))
        .collect::<Vec<_>>()
        .join(" | ");
    s += " |\n|---|---|";
    s += &"---|".repeat(mus.len());
    s += "\n";
    let mut groups: Vec<(String, String)> = Vec::new();
    for c in &sm.cells {
        let g = (c.model.clone(), c.mode.clone());
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    let mut by_mode: Vec<(String, Vec<Curve>)> = Vec::new();
    for (model, mode) in &groups {
        s += &format!("| {model} | {mode} |");
        let mut pts = Vec::new();
        for &mu in &mus {
            match sm
                .cells
                .iter()
                .find(|c| &c.model == model && &c.mode == mode && c.mu == mu)
            {
                Some(c) => {
                    let e = &c.map50;
                    if e.n > 1 {
                        s += &format!(" {:.3} [{:.3}, {:.3}] ({}) |", e.mean, e.lo, e.hi, e.n);
                    } else {
                        s += &format!(" {:.3} ({}) |", e.mean, e.n);
                    }
                    pts.push((mu, e.mean, half(e)));
                }
                None => s += " |",
            }
        }
        s += "\n";
        let c = Curve {
            name: model.clone(),
            points: pts,
        };
        match by_mode.iter_mut().find(|x| &x.0 == mode) {
            Some(x) => x.1.push(c),
            None => by_mode.push((mode.clone(), vec![c])),
        }
    }
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
    let mut diffs: Vec<Curve> = Vec::new();
    for kind in ["model", "mode"] {
        let rows: Vec<&PairedRow> = sm
            .paired
            .iter()
            .filter(|r| r.kind == kind && r.mu > 0.0)
            .collect();
        if rows.is_empty() {
            continue;
        }
        s += &format!(
            "\nPaired differences over the shared draws, {} (mean [95 % t interval], n pairs)\n\n\
             | {} | A - B | mu | difference | verdict | clean A | clean B |\n|---|---|---|---|---|---|---|\n",
            if kind == "model" {
                "model A - model B in one evaluation mode"
            } else {
                "evaluation mode A - mode B for one model"
            },
            if kind == "model" { "evaluation" } else { "model" }
        );
        for r in rows {
            s += &format!(
                "| {} | {} - {} | {} | {} (n={}) | {} | {} | {} |\n",
                r.within,
                r.a,
                r.b,
                r.mu,
                r.diff.signed(),
                r.diff.n,
                r.verdict,
                opt(r.clean_a),
                opt(r.clean_b)
            );
            let name = format!("{}: {} - {}", r.within, r.a, r.b);
            let p = (r.mu, r.diff.mean, half(&r.diff));
            match diffs.iter_mut().find(|c| c.name == name) {
                Some(c) => c.points.push(p),
                None => diffs.push(Curve {
                    name,
                    points: vec![p],
                }),
            }
        }
    }
    if let Some(dir) = plot_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| nestevo_core::error::IoError::new(dir, "create folder", e))?;
        let plot = |p: &Path, title: &str, y: &str, cs: &[Curve]| {
            curves(p, title, "noise coefficient mu", y, cs)
                .map_err(|e| EvolveError::Fault(format!("plot {}: {e}", p.display())))
        };
        for (mode, cs) in &by_mode {
            plot(
                &dir.join(format!("noise-{mode}.png")),
                &format!("mAP@0.5 against noise mu, evaluated {mode} (mean, 95 % interval)"),
                "mAP@0.5",
                cs,
            )?;
        }
        // Against mu the differences need two noise levels: with one, every interval would
        // stack at one x, and the table says it better.
        if diffs.iter().any(|c| c.points.len() > 1) {
            plot(
                &dir.join("noise-paired.png"),
                "paired difference of mAP@0.5 over shared draws (mean, 95 % interval)",
                "difference of mAP@0.5",
                &diffs,
            )?;
        }
    }
    if let Some(p) = json {
        let text = serde_json::to_string_pretty(&sm)
            .map_err(|e| EvolveError::Fault(format!("summary JSON: {e}")))?;
        write_atomic(p, text.as_bytes())?;
    }
    Ok(s)
}

/// Fine-tunes a checkpoint on the source stream's training frames with the trainer's noise at
/// `mu` drawn at `site` (the cell site with `arch`'s weight and cell bits; 0: the same
/// fine-tune without noise, the fair baseline: same frames, seed and steps), and saves it as
/// `dir/NAME.safetensors`.
#[allow(clippy::too_many_arguments)]
pub fn finetune(
    from: &Path,
    dir: &Path,
    name: &str,
    mu: f64,
    site: NoiseSite,
    arch: &ArchSpec,
    steps: usize,
    batch: usize,
    lr: f64,
    seed: u64,
) -> Result<PathBuf> {
    let (mut m, _) = load(from, tch::Device::Cpu)?;
    m.noise = if mu > 0.0 {
        Some(site_law(site, mu, arch)?)
    } else {
        None
    };
    m.desc.name = name.to_string();
    let mut pool = FramePool::new(StreamId::Source, seed);
    let cfg = TrainConfig {
        steps,
        batch,
        lr,
        weight_decay: 1e-4,
        warmup: (steps / 20).max(1),
        seed,
        checkpoint_dir: None,
        checkpoint_every: steps,
        start_step: 0,
        progress: true,
    };
    let r = train(
        &mut m,
        &mut |n| pool.sample(n),
        &Objective::Supervised,
        &cfg,
    )?;
    m.noise = None;
    let state = TrainState {
        model: name.to_string(),
        step: steps,
        total_steps: steps,
        seed,
        last_loss: r.last_loss,
        seconds: r.seconds,
    };
    Ok(save(&m, dir, &state)?)
}
