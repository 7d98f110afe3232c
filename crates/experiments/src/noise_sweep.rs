//! Noise robustness (the paper's Fig. 15): detectors trained with and without Eq. 18-20 noise,
//! each scored at every noise coefficient three ways: the trainer's fast weight noise (redrawn
//! every forward, `train::noise`), bit-faithful with weight-level noise and bit-faithful with
//! cell-level noise (`couple::run_detector`, drawn once at programming). mu = 0 is one noiseless
//! point per mode; mu > 0 takes `draws` draws (seeds seed, seed + 1, ...), summarised as mean
//! and sample standard deviation. Points are written as they finish and a rerun resumes
//! (`couple::points`). Also the plain noise-injected fine-tune the comparison needs
//! (`finetune`): the trainer with its noise wrapper on the source stream's training frames.

use crate::adc_sweep::mean_sd;
use crate::plot::{curves, Curve};
use crate::points::PointsFile;
use nestevo_arch::ArchSpec;
use nestevo_cim::{Backend, NoiseMode, NoiseSpec};
use nestevo_couple::{load_checkpoint, run_detector, RunConfig};
use nestevo_data::StreamId;
use nestevo_eval::HeldOut;
use nestevo_evolve::error::{EvolveError, Result};
use nestevo_train::checkpoint::{load, save, TrainState};
use nestevo_train::evaluate::evaluate_frames;
use nestevo_train::frames::FramePool;
use nestevo_train::noise::WeightNoise;
use nestevo_train::trainer::{train, Objective, TrainConfig};
use std::path::{Path, PathBuf};

/// How a noisy model is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalMode {
    /// The trainer's Eq. 18-20 weight noise in LibTorch's forward.
    Trainer,
    /// Bit-faithful, Eq. 18-20 on the weights before programming.
    Weight,
    /// Bit-faithful, Eq. 18-20 on every cell's conductance.
    Cell,
}

impl EvalMode {
    pub const ALL: [EvalMode; 3] = [EvalMode::Trainer, EvalMode::Weight, EvalMode::Cell];
    pub fn name(self) -> &'static str {
        match self {
            EvalMode::Trainer => "trainer",
            EvalMode::Weight => "cim-weight",
            EvalMode::Cell => "cim-cell",
        }
    }
}

pub struct NoiseSweep {
    /// (label, checkpoint) of each model compared.
    pub models: Vec<(String, PathBuf)>,
    pub mus: Vec<f64>,
    pub modes: Vec<EvalMode>,
    pub draws: usize,
    pub seed: u64,
    pub frames: HeldOut,
    pub calib_frames: usize,
    pub arch: ArchSpec,
    pub backend: Backend,
}

pub const COLUMNS: [&str; 7] = [
    "model",
    "mode",
    "mu",
    "draw",
    "map50",
    "cim_vs_float_map50",
    "seconds",
];

/// Runs every point not yet in `out`, printing progress.
pub fn noise_sweep(s: &NoiseSweep, out: &Path) -> Result<PointsFile> {
    let fault = |e: nestevo_couple::CoupleError| EvolveError::BadInput(e.to_string());
    nestevo_core::check!(s.draws >= 1, "--draws must be at least 1");
    nestevo_core::check!(
        !s.models.is_empty(),
        "give at least one --checkpoint LABEL=PATH"
    );
    for (l, _) in &s.models {
        nestevo_core::check!(
            !l.is_empty() && !l.contains(',') && !l.contains('='),
            "--checkpoint label `{l}`: a non-empty name without `,` or `=`"
        );
    }
    for &mu in &s.mus {
        nestevo_cim::noise::check_mu("mu", mu)?;
    }
    let mut file = PointsFile::open(out, &COLUMNS, 4).map_err(fault)?;
    let mut points = Vec::new();
    for (label, path) in &s.models {
        for &mode in &s.modes {
            for &mu in &s.mus {
                for d in 0..if mu > 0.0 { s.draws } else { 1 } {
                    points.push((label, path, mode, mu, d));
                }
            }
        }
    }
    let n = points.len();
    let mut frames_cache: Option<(String, Vec<nestevo_data::Frame>)> = None;
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
        let (map50, vs_float) = match mode {
            EvalMode::Trainer => {
                let (mut m, _) = load(path, tch::Device::Cpu)?;
                if mu > 0.0 {
                    m.noise = Some(WeightNoise::new(mu)?);
                }
                tch::manual_seed(seed as i64);
                let [_, h, w] = m.desc.input;
                let tag = format!("{w}x{h}");
                if frames_cache.as_ref().is_none_or(|c| c.0 != tag) {
                    frames_cache = Some((tag, s.frames.render(w, h)?));
                }
                let frames = &frames_cache.as_ref().expect("set above").1;
                (evaluate_frames(&m, frames)?.0.map50, f64::NAN)
            }
            EvalMode::Weight | EvalMode::Cell => {
                let (desc, tensors) = load_checkpoint(path, None).map_err(fault)?;
                let nm = match (mu > 0.0, mode) {
                    (false, _) => NoiseMode::None,
                    (true, EvalMode::Weight) => NoiseMode::Weight,
                    _ => NoiseMode::Cell,
                };
                let cfg = RunConfig {
                    frames: s.frames,
                    calib_frames: s.calib_frames,
                    noise: NoiseSpec::from_flags(nm, mu, 0.0, seed)
                        .map_err(|e| EvolveError::BadInput(e.to_string()))?,
                    backend: s.backend.clone(),
                };
                let r = run_detector(&desc, &tensors, &s.arch, &cfg).map_err(fault)?;
                (r.cim.map50, r.cim_vs_float.map50)
            }
        };
        let secs = t.elapsed().as_secs_f64();
        let mut row = key;
        row.extend([
            format!("{map50:.5}"),
            format!("{vs_float:.5}"),
            format!("{secs:.2}"),
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

/// Table (mean +- sd over draws) and one plot per evaluation mode in `plot_dir`
/// (`noise-<mode>.png`).
pub fn summarise(file: &PointsFile, plot_dir: Option<&Path>) -> Result<String> {
    let mut groups: Vec<(String, String)> = Vec::new();
    let mut mus: Vec<f64> = Vec::new();
    for r in file.rows() {
        let g = (r[0].clone(), r[1].clone());
        if !groups.contains(&g) {
            groups.push(g);
        }
        let mu: f64 = r[2].parse().unwrap_or(f64::NAN);
        if !mus.contains(&mu) {
            mus.push(mu);
        }
    }
    mus.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
    let mut s = String::from("| model | evaluation | ");
    s += &mus
        .iter()
        .map(|m| format!("mu {m}"))
        .collect::<Vec<_>>()
        .join(" | ");
    s += " |\n|---|---|";
    s += &"---|".repeat(mus.len());
    s += "\n";
    let mut by_mode: Vec<(String, Vec<Curve>)> = Vec::new();
    for (model, mode) in &groups {
        s += &format!("| {model} | {mode} |");
        let mut pts = Vec::new();
        for &mu in &mus {
            let v: Vec<f64> = file
                .rows()
                .iter()
                .filter(|r| &r[0] == model && &r[1] == mode && r[2].parse::<f64>().ok() == Some(mu))
                .map(|r| file.num(r, "map50"))
                .collect();
            if v.is_empty() {
                s += " |";
                continue;
            }
            let (m, sd) = mean_sd(&v);
            s += &format!(" {m:.4} +- {sd:.4} (n={}) |", v.len());
            pts.push((mu, m, sd));
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
    if let Some(dir) = plot_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| nestevo_core::error::IoError::new(dir, "create folder", e))?;
        for (mode, cs) in &by_mode {
            let p = dir.join(format!("noise-{mode}.png"));
            curves(
                &p,
                &format!("mAP@0.5 against noise mu, evaluated {mode} (mean +- sd over draws)"),
                "noise coefficient mu",
                "mAP@0.5",
                cs,
            )
            .map_err(|e| EvolveError::Fault(format!("plot {}: {e}", p.display())))?;
        }
    }
    Ok(s)
}

/// Fine-tunes a checkpoint on the source stream's training frames with the trainer's Eq. 18-20
/// weight noise at `mu` (0: the same fine-tune without noise, the fair baseline), and saves it
/// as `dir/NAME.safetensors`.
#[allow(clippy::too_many_arguments)]
pub fn finetune(
    from: &Path,
    dir: &Path,
    name: &str,
    mu: f64,
    steps: usize,
    batch: usize,
    lr: f64,
    seed: u64,
) -> Result<PathBuf> {
    let (mut m, _) = load(from, tch::Device::Cpu)?;
    m.noise = if mu > 0.0 {
        Some(WeightNoise::new(mu)?)
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
