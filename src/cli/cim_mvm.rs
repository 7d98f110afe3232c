//! `nestevo cim mvm`: integer matrix products on the simulated crossbars, from and to .npy.

use super::args::BackendArg;
use super::args::{ArchSel, NoiseArgs};
use anyhow::{bail, Context, Result};
use clap::Args;
use nestevo_cim::stats::counts_table;
use nestevo_cim::CimMatrix;
use nestevo_data::npy::{read_int_matrix, write_int_matrix};
use std::path::PathBuf;
use std::time::Instant;

/// Bit-faithful matrix-vector products: Y = X W on the accelerator's crossbars.
#[derive(Args)]
pub struct MvmArgs {
    #[command(flatten)]
    pub sel: ArchSel,
    /// Weights: integer .npy of shape [K, N] in the signed weight range.
    #[arg(long)]
    pub weights: PathBuf,
    /// Inputs: integer .npy of shape [B, K] (unsigned input range, or signed with --signed-inputs).
    #[arg(long)]
    pub inputs: PathBuf,
    /// Output: int64 .npy of shape [B, N], the integer result after bias removal, unscaled.
    #[arg(long)]
    pub out: PathBuf,
    /// Inputs are two's complement.
    #[arg(long)]
    pub signed_inputs: bool,
    #[command(flatten)]
    pub noise: NoiseArgs,
    /// Per-read cell noise coefficient (fresh every read; analogue path).
    #[arg(long, default_value_t = 0.0)]
    pub read_mu: f64,
    #[command(flatten)]
    pub backend: BackendArg,
    /// Print the statistics as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: MvmArgs) -> Result<()> {
    super::args::out_folder("--out", &a.out)?;
    let spec = a.sel.load()?;
    let noise = a.noise.spec(a.read_mu)?;
    let w = read_int_matrix(&a.weights)?;
    let x = read_int_matrix(&a.inputs)?;
    let ((k, n), (b, kx)) = (w.dim(), x.dim());
    if kx != k {
        bail!(
            "{}: shape [{b}, {kx}] disagrees with {}: shape [{k}, {n}] (inputs need K = {k} columns)",
            a.inputs.display(),
            a.weights.display()
        );
    }
    let backend = a.backend.get()?;
    let t0 = Instant::now();
    let m = CimMatrix::program_on(&backend, &spec, w.view(), &noise)
        .with_context(|| format!("programming {}", a.weights.display()))?;
    let t1 = Instant::now();
    let (y, stats) = m
        .mvm(x.view(), a.signed_inputs)
        .with_context(|| format!("multiplying {}", a.inputs.display()))?;
    let t2 = Instant::now();
    write_int_matrix(&a.out, &y)?;
    let (prog_s, run_s) = ((t1 - t0).as_secs_f64(), (t2 - t1).as_secs_f64());
    if a.json {
        let j = serde_json::json!({
            "arch": spec.name,
            "batch": b, "k": k, "n": n,
            "signed_inputs": a.signed_inputs,
            "noise": noise,
            "backend": a.backend.backend,
            "device": a.backend.backend.device(),
            "stats": stats,
            "adc_saturation_rate": stats.saturation_rate(),
            "program_seconds": prog_s,
            "run_seconds": run_s,
            "simulated_macs_per_second": stats.macs as f64 / run_s.max(1e-12),
        });
        println!("{}", serde_json::to_string_pretty(&j)?);
    } else {
        print!("{}", counts_table(&spec.name, (b, k, n), &stats, run_s));
        println!("wrote {} (int64, shape [{b}, {n}])", a.out.display());
    }
    Ok(())
}
