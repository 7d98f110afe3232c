//! `nestevo bench gpu-vs-cim` (Table 6), `bench adc-sweep` and `bench noise-sweep` (Fig. 15):
//! the coupling benchmarks. Parse and call only.

use super::args::{set_threads, ArchSel, BackendArg, HeldOutArgs, NoiseArgs};
use anyhow::Result;
use clap::Args;
use nestevo_cim::NoiseMode;
use nestevo_couple::{load_checkpoint, RunConfig};
use nestevo_data::StreamId;
use nestevo_experiments::adc_sweep::{adc_sweep, summarise, AdcGrid};
use std::path::PathBuf;

/// Rayon (the crossbar kernels) and LibTorch on `t` threads.
fn threads(t: Option<i32>) -> Result<()> {
    set_threads(t)?;
    if let Some(t) = t {
        // Fails only when a pool exists already; then it keeps its size.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(t as usize)
            .build_global();
    }
    Ok(())
}

#[derive(Args)]
pub struct GpuVsCimArgs {
    #[command(flatten)]
    pub sel: ArchSel,
    /// The global model: DIR/NAME.safetensors with NAME.toml beside it.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Frames (default: 1200 of stream source, the paper's count).
    #[command(flatten)]
    pub frames: HeldOutArgs,
    #[arg(long, default_value_t = 4)]
    pub calib_frames: usize,
    #[command(flatten)]
    pub noise: NoiseArgs,
    #[command(flatten)]
    pub backend: BackendArg,
    /// LibTorch batch size.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// LibTorch device: cpu, or cuda when built with CUDA and one is present (default: cuda
    /// when available, else cpu).
    #[arg(long)]
    pub device: Option<String>,
    /// The mapper-only network of the paper's size (default models/resnet50-720p.toml).
    #[arg(long, default_value = "models/resnet50-720p.toml")]
    pub big_model: PathBuf,
    /// Frames the big network's LibTorch time is measured on (then scaled to --frames); 0
    /// skips the measurement (mapper figures only).
    #[arg(long, default_value_t = 2)]
    pub big_frames: usize,
    #[arg(long)]
    pub threads: Option<i32>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Write the JSON report here (atomically).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the bar plot (PNG) here.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

#[cfg(feature = "torch")]
pub fn gpu_vs_cim(a: GpuVsCimArgs) -> Result<()> {
    use nestevo_core::error::write_atomic;
    use nestevo_couple::{run_detector, WriteCost};
    use nestevo_eval::{evaluate_with_ci, ground_truth};
    use nestevo_experiments::gpu_vs_cim::{
        global_side, mapper_side, plot, render, GpuVsCim, Measured,
    };
    use nestevo_experiments::infer_bench::{time_checkpoint, time_description, InferTiming};
    threads(a.threads)?;
    let spec = a.sel.load()?;
    let device = match a.device.as_deref() {
        None => tch::Device::cuda_if_available(),
        Some("cpu") => tch::Device::Cpu,
        Some("cuda") => {
            anyhow::ensure!(
                tch::Cuda::is_available(),
                "--device cuda: no CUDA device here"
            );
            tch::Device::Cuda(0)
        }
        Some(d) => anyhow::bail!("--device {d}: allowed cpu or cuda"),
    };
    let held = a.frames.held_out(StreamId::Source, 1200)?;
    let (desc, tensors) = load_checkpoint(&a.checkpoint, None)?;
    let [_, h, w] = desc.input;
    eprintln!("rendering {} frames ...", held.frames);
    let frames = held.render(w, h)?;
    eprintln!("LibTorch on {device:?} ...");
    let (t, dets) = time_checkpoint(&a.checkpoint, device, &frames, a.batch)?;
    let torch_map = evaluate_with_ci(&ground_truth(&frames), &dets);
    let conv = |t: InferTiming| Measured {
        device: t.device,
        frames: t.frames,
        batch: t.batch,
        load_s: t.load_s,
        move_s: t.move_s,
        infer_s: t.infer_s,
        weights_bytes: t.weights_bytes,
        activation_bytes: t.activation_bytes,
    };
    eprintln!("bit-faithful on {} ...", spec.name);
    let cfg = RunConfig {
        frames: held,
        calib_frames: a.calib_frames,
        noise: a.noise.spec(0.0)?,
        backend: a.backend.get()?,
        batch: nestevo_couple::FRAMES_PER_FORWARD,
    };
    let run = run_detector(&desc, &tensors, &spec, &cfg)?;
    let program = WriteCost::default().program(&spec, &desc)?;
    let global = global_side(conv(t), &torch_map, &run, program);
    let big = nestevo_model::load_model(&a.big_model)?;
    let measured = if a.big_frames > 0 {
        eprintln!(
            "LibTorch {} at {}x{} on {} frames ...",
            big.name, big.input[2], big.input[1], a.big_frames
        );
        Some(conv(time_description(&big, device, a.big_frames, 1)?))
    } else {
        None
    };
    let mapper = Some(mapper_side(&spec, &big, cfg.frames.frames, measured)?);
    let r = GpuVsCim { global, mapper };
    let json = serde_json::to_string_pretty(&r)?;
    if let Some(p) = &a.out {
        write_atomic(p, json.as_bytes())?;
    }
    if let Some(p) = &a.plot {
        plot(&r, p).map_err(|e| anyhow::anyhow!("plot {}: {e}", p.display()))?;
    }
    if a.json {
        println!("{json}");
    } else {
        print!("{}", render(&r));
    }
    Ok(())
}

#[cfg(not(feature = "torch"))]
super::needs_torch! {
    gpu_vs_cim(GpuVsCimArgs) => "bench gpu-vs-cim";
    noise(NoiseSweepArgs) => "bench noise-sweep";
    finetune(NoiseFinetuneArgs) => "bench noise-finetune";
}

#[derive(Args)]
pub struct AdcSweepArgs {
    #[command(flatten)]
    pub sel: ArchSel,
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Scored frames (default: 64 of stream source).
    #[command(flatten)]
    pub frames: HeldOutArgs,
    #[arg(long, default_value_t = 4)]
    pub calib_frames: usize,
    /// ADC resolutions, bits.
    #[arg(long, value_delimiter = ',', default_value = "4,5,6,7,8,9")]
    pub bits: Vec<u32>,
    /// Column flipping on, off.
    #[arg(long, value_delimiter = ',', default_value = "true,false")]
    pub flip: Vec<bool>,
    /// Noise coefficients.
    #[arg(long, value_delimiter = ',', default_value = "0,0.01")]
    pub mus: Vec<f64>,
    /// Noise mode of the points with mu > 0: weight or cell.
    #[arg(long, default_value = "cell")]
    pub noise: NoiseMode,
    /// Noise draws per point with mu > 0.
    #[arg(long, default_value_t = 3)]
    pub draws: usize,
    #[arg(long, default_value_t = 0)]
    pub noise_seed: u64,
    #[command(flatten)]
    pub backend: BackendArg,
    #[arg(long)]
    pub threads: Option<i32>,
    /// Results CSV (resumed when it exists).
    #[arg(long)]
    pub out: PathBuf,
    /// Plot PNG.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

pub fn adc(a: AdcSweepArgs) -> Result<()> {
    threads(a.threads)?;
    for &mu in &a.mus {
        nestevo_cim::noise::check_mu("--mus", mu)?;
    }
    anyhow::ensure!(
        a.noise != NoiseMode::None || a.mus.iter().all(|m| *m == 0.0),
        "--noise none with a mu > 0 in --mus: choose weight or cell"
    );
    let spec = a.sel.load()?;
    let (desc, tensors) = load_checkpoint(&a.checkpoint, None)?;
    let cfg = RunConfig {
        frames: a.frames.held_out(StreamId::Source, 64)?,
        calib_frames: a.calib_frames,
        noise: Default::default(),
        backend: a.backend.get()?,
        batch: nestevo_couple::FRAMES_PER_FORWARD,
    };
    let grid = AdcGrid {
        bits: a.bits,
        flip: a.flip,
        mus: a.mus,
        mode: a.noise,
        draws: a.draws,
        seed: a.noise_seed,
    };
    let file = adc_sweep(&desc, &tensors, &spec, &cfg, &grid, &a.out)?;
    print!("{}", summarise(&file, a.plot.as_deref())?);
    Ok(())
}

#[derive(Args)]
pub struct NoiseSweepArgs {
    #[command(flatten)]
    pub sel: ArchSel,
    /// A model to compare, LABEL=DIR/NAME.safetensors (repeat: e.g. noisy=..., clean=...); the
    /// first is model A of the paired differences.
    #[arg(long = "checkpoint", required = true)]
    pub checkpoints: Vec<String>,
    /// Scored frames: --frames in all (default 300), spread over --streams, or all on
    /// --stream when given.
    #[command(flatten)]
    pub frames: HeldOutArgs,
    /// Streams the frames are spread over when --stream is not given.
    #[arg(long, value_delimiter = ',', default_value = "source,A,B,C,D,E,F")]
    pub streams: Vec<StreamId>,
    /// Calibration frames of the crossbar modes, spread over the same streams (at least one
    /// each).
    #[arg(long, default_value_t = 7)]
    pub calib_frames: usize,
    /// Noise coefficients (Fig. 15).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0,0.005,0.01,0.02,0.05,0.1"
    )]
    pub mus: Vec<f64>,
    /// Evaluation modes: trainer (the trainer's law on the folded weights), trainer-raw (on
    /// the unfolded conv weights), trainer-cell (the trainer's law on their cells),
    /// cim-weight, cim-cell.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "trainer,cim-weight,cim-cell"
    )]
    pub modes: Vec<String>,
    /// Noise draws per point with mu > 0; draw d has seed noise-seed + d for every model and
    /// mode.
    #[arg(long, default_value_t = 10)]
    pub draws: usize,
    #[arg(long, default_value_t = 0)]
    pub noise_seed: u64,
    #[command(flatten)]
    pub backend: BackendArg,
    #[arg(long)]
    pub threads: Option<i32>,
    /// Results CSV (resumed when it exists); the summary goes beside it as .json.
    #[arg(long)]
    pub out: PathBuf,
    /// Folder for one plot per evaluation mode (noise-MODE.png) and the paired differences
    /// (noise-paired.png).
    #[arg(long)]
    pub plot_dir: Option<PathBuf>,
}

#[derive(Args)]
pub struct NoiseFinetuneArgs {
    /// The accelerator whose weight and cell bits the cell site uses.
    #[command(flatten)]
    pub sel: ArchSel,
    /// The checkpoint to fine-tune.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Eq. 18-20 weight-noise coefficient in the forward pass (0: the noiseless baseline).
    #[arg(long)]
    pub mu: f64,
    /// Where the noise is drawn: folded (the weights the chip holds, batch-norm folded), cell
    /// (every cell of those weights as the accelerator slices them: the chip's programming
    /// law) or raw (the unfolded conv weights, the older law).
    #[arg(long, default_value = "folded")]
    pub site: String,
    #[arg(long, default_value_t = 300)]
    pub steps: usize,
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    #[arg(long, default_value_t = 5e-4)]
    pub lr: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output folder and the new model's name (DIR/NAME.safetensors).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub threads: Option<i32>,
}

#[cfg(feature = "torch")]
pub fn noise(a: NoiseSweepArgs) -> Result<()> {
    use nestevo_experiments::noise_sweep::{noise_sweep, spread, summarise, EvalMode, NoiseSweep};
    threads(a.threads)?;
    let models = a
        .checkpoints
        .iter()
        .map(|c| {
            let (l, p) = c.split_once('=').ok_or_else(|| {
                anyhow::anyhow!("--checkpoint {c}: expected LABEL=DIR/NAME.safetensors")
            })?;
            Ok((l.to_string(), PathBuf::from(p)))
        })
        .collect::<Result<Vec<_>>>()?;
    let modes = a
        .modes
        .iter()
        .map(|m| Ok(m.parse::<EvalMode>()?))
        .collect::<Result<Vec<_>>>()?;
    let total = a.frames.frames.unwrap_or(300);
    let frames = match a.frames.stream {
        Some(st) => vec![a.frames.held_out(st, total)?],
        None => spread(&a.streams, total, a.frames.seed)?,
    };
    let s = NoiseSweep {
        models,
        mus: a.mus,
        modes,
        draws: a.draws,
        seed: a.noise_seed,
        frames,
        calib_frames: a.calib_frames,
        arch: a.sel.load()?,
        backend: a.backend.get()?,
    };
    let file = noise_sweep(&s, &a.out)?;
    let json = a.out.with_extension("json");
    print!(
        "{}",
        summarise(&file, a.plot_dir.as_deref(), Some(json.as_path()))?
    );
    Ok(())
}

#[cfg(feature = "torch")]
pub fn finetune(a: NoiseFinetuneArgs) -> Result<()> {
    use nestevo_train::noise::NoiseSite;
    threads(a.threads)?;
    let site = match a.site.as_str() {
        "folded" => NoiseSite::Folded,
        "cell" => NoiseSite::Cell,
        "raw" => NoiseSite::Raw,
        s => anyhow::bail!("--site {s}: allowed folded, cell, raw"),
    };
    let arch = a.sel.load()?;
    let p = nestevo_experiments::noise_sweep::finetune(
        &a.checkpoint,
        &a.out,
        &a.name,
        a.mu,
        site,
        &arch,
        a.steps,
        a.batch,
        a.lr,
        a.seed,
    )?;
    println!("wrote {}", p.display());
    Ok(())
}
