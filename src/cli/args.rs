//! Arguments that several commands take, defined once so that a flag means one thing
//! everywhere: `--arch/--set`, the noise flags, the held-out frames, `--threads`.

use crate::engines::EngineKind;
use clap::Args;
use nestevo_arch::{apply_overrides, load_arch, ArchSpec};
use nestevo_cim::{Backend, NoiseMode, NoiseSpec};
use nestevo_data::StreamId;
use nestevo_eval::heldout::{HeldOut, EVAL_SEED};
use std::path::PathBuf;

/// The accelerator description every simulator command takes.
#[derive(Args, Clone)]
pub struct ArchSel {
    /// Accelerator description (TOML file, or a preset name: isaac, isaac-noflip-9bit, xbar256-1bit).
    #[arg(long, default_value = "isaac")]
    pub arch: PathBuf,
    /// Override a field, e.g. --set adc.bits=6 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Add a device law after the description's own (repeatable, applied in order), e.g.
    /// --law stuck:off_rate=0.01 or --law drift:time_s=86400,compensate=true. Laws: programming
    /// (mu), read (mu), stuck (off_rate, on_rate), drift (time_s, t0_s, nu, nu_sd, compensate),
    /// table (file: CSV level,mean_us,sd_us).
    #[arg(long = "law", value_name = "NAME[:KEY=VALUE,...]")]
    pub laws: Vec<nestevo_device::LawSpec>,
}

impl ArchSel {
    pub fn load(&self) -> anyhow::Result<ArchSpec> {
        let spec = load_arch(&self.arch)?;
        let source = self.arch.display().to_string();
        let mut spec = apply_overrides(&spec, &self.sets, &source)?;
        if !self.laws.is_empty() {
            spec.device.laws.extend(self.laws.iter().cloned());
            spec.device_laws(&format!("{source} (--law)"))?;
        }
        Ok(spec)
    }
}

/// Conductance noise (SPEC 3.3, Eq. 18-20): the same three flags on every command.
#[derive(Args, Clone)]
pub struct NoiseArgs {
    /// Noise model: none, weight (Eq. 18-20 on the weights) or cell (on every cell's conductance).
    #[arg(long, default_value = "none")]
    pub noise: NoiseMode,
    /// Noise coefficient mu (0 to 1): sigma = mu * (max - min) of the weights or conductances.
    #[arg(long, default_value_t = 0.0)]
    pub mu: f64,
    /// Seed of the noise draws (a crossbar layer l draws from noise-seed + l * 2^16).
    #[arg(long, default_value_t = 0)]
    pub noise_seed: u64,
}

impl NoiseArgs {
    /// The validated spec (with per-read noise `read_mu`, 0 where a command has none).
    pub fn spec(&self, read_mu: f64) -> anyhow::Result<NoiseSpec> {
        Ok(NoiseSpec::from_flags(
            self.noise,
            self.mu,
            read_mu,
            self.noise_seed,
        )?)
    }
}

/// Held-out frames of a rendered stream, by the one rule of `eval::heldout`.
#[derive(Args, Clone)]
pub struct HeldOutArgs {
    /// Stream the frames come from: source, A, B, C, D, E or F.
    #[arg(long)]
    pub stream: Option<StreamId>,
    /// Frames scored (one every 2 s of stream time).
    #[arg(long)]
    pub frames: Option<usize>,
    /// Held-out stream seed (below 2^32; default the evaluation seed 59297).
    #[arg(long, default_value_t = EVAL_SEED)]
    pub seed: u64,
}

impl HeldOutArgs {
    /// The set, with `frames` as the count when `--frames` is not given.
    pub fn held_out(&self, stream: StreamId, frames: usize) -> anyhow::Result<HeldOut> {
        Ok(HeldOut::new(stream, self.frames.unwrap_or(frames)).with_seed(self.seed)?)
    }
}

/// `--backend cpu|torch[:VARIANT]`: the engine of the crossbars, for every command that runs
/// them.
#[derive(Args, Clone)]
pub struct BackendArg {
    /// Engine of the crossbars: the CPU kernels, or LibTorch tensors (CUDA when present, else
    /// the CPU); both compute the same products and counts. Allowed: cpu, torch, or torch:
    /// with one of the analogue path's variants: bf16 (products from bf16 parts, tensor cores
    /// on CUDA), epilogue (the ADC in the f32 products' epilogue), f16 (products from f16
    /// parts, codes rounded and stored as f16).
    #[arg(long, default_value = "cpu")]
    pub backend: EngineKind,
}

impl BackendArg {
    pub fn get(&self) -> anyhow::Result<Backend> {
        Ok(self.backend.backend()?)
    }
}

/// `--threads`: LibTorch's CPU threads.
#[cfg_attr(not(feature = "torch"), allow(dead_code))]
pub fn set_threads(t: Option<i32>) -> anyhow::Result<()> {
    if let Some(t) = t {
        anyhow::ensure!(t > 0, "--threads {t}: allowed is 1 or more");
        #[cfg(feature = "torch")]
        tch::set_num_threads(t);
    }
    Ok(())
}

/// Refuses an output file whose folder does not exist before any work is done, so that a typo in
/// `flag` never costs a finished run's results.
pub fn out_folder(flag: &str, path: &std::path::Path) -> anyhow::Result<()> {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() && !d.is_dir() => anyhow::bail!(
            "{flag} {}: the folder {} does not exist (create it first)",
            path.display(),
            d.display()
        ),
        _ => Ok(()),
    }
}
