//! `nestevo cim mvm`: integer matrix products on the simulated crossbars, from and to .npy.

use super::cim::ArchSel;
use crate::cim::{CimMatrix, LayerStats, NoiseMode};
use crate::engines::EngineKind;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use ndarray::Array2;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use std::path::{Path, PathBuf};
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
    /// Conductance noise model.
    #[arg(long, value_enum, default_value = "none")]
    pub noise: NoiseMode,
    /// Noise coefficient mu: sigma = mu * (max - min) of the weights (weight) or conductances (cell).
    #[arg(long, default_value_t = 0.0)]
    pub mu: f64,
    /// Per-read cell noise coefficient (fresh every read; analogue path).
    #[arg(long, default_value_t = 0.0)]
    pub read_mu: f64,
    /// Seed of every noise draw.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Engine of the crossbars: the CPU kernels, or LibTorch tensors (CUDA when present).
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: EngineKind,
    /// Print the statistics as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: MvmArgs) -> Result<()> {
    let spec = a.sel.load()?;
    let noise = super::cim::noise_spec(a.noise, a.mu, a.read_mu, a.seed)?;
    let w = read_int_npy(&a.weights)?;
    let x = read_int_npy(&a.inputs)?;
    let ((k, n), (b, kx)) = (w.dim(), x.dim());
    if kx != k {
        bail!(
            "{}: shape [{b}, {kx}] disagrees with {}: shape [{k}, {n}] (inputs need K = {k} columns)",
            a.inputs.display(),
            a.weights.display()
        );
    }
    let backend = a.backend.backend()?;
    let t0 = Instant::now();
    let m = CimMatrix::program_on(&backend, &spec, w.view(), &noise)
        .with_context(|| format!("{}", a.weights.display()))?;
    let t1 = Instant::now();
    let (y, stats) = m
        .mvm(x.view(), a.signed_inputs)
        .with_context(|| format!("{}", a.inputs.display()))?;
    let t2 = Instant::now();
    let f = std::fs::File::create(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    y.write_npy(std::io::BufWriter::new(f))
        .with_context(|| format!("cannot write {}", a.out.display()))?;
    let (prog_s, run_s) = ((t1 - t0).as_secs_f64(), (t2 - t1).as_secs_f64());
    if a.json {
        let j = serde_json::json!({
            "arch": spec.name,
            "batch": b, "k": k, "n": n,
            "signed_inputs": a.signed_inputs,
            "noise": noise,
            "backend": a.backend,
            "device": a.backend.device(),
            "stats": stats,
            "adc_saturation_rate": stats.saturation_rate(),
            "program_seconds": prog_s,
            "run_seconds": run_s,
            "simulated_macs_per_second": stats.macs as f64 / run_s.max(1e-12),
        });
        println!("{}", serde_json::to_string_pretty(&j)?);
    } else {
        print_table(&spec.name, (b, k, n), &stats, run_s);
        println!("wrote {} (int64, shape [{b}, {n}])", a.out.display());
    }
    Ok(())
}

fn print_table(arch: &str, (b, k, n): (usize, usize, usize), s: &LayerStats, run_s: f64) {
    println!("arch {arch}: B {b} x K {k} -> N {n}");
    println!("| quantity | value |\n|---|---|");
    println!("| crossbars | {} crossbars |", s.crossbars);
    println!("| crossbar reads | {} reads |", s.crossbar_reads);
    println!("| DAC pulses | {} pulses |", s.dac_pulses);
    println!("| ADC conversions | {} conversions |", s.adc_conversions);
    println!(
        "| ADC saturations | {} conversions ({:.4} %) |",
        s.adc_saturations,
        100.0 * s.saturation_rate()
    );
    println!("| shift-and-adds | {} operations |", s.shift_adds);
    println!("| MACs | {} MACs |", s.macs);
    println!(
        "| run time | {:.3} s ({:.3e} simulated MAC/s) |",
        run_s,
        s.macs as f64 / run_s.max(1e-12)
    );
}

/// A 2-D integer .npy of any integer dtype, as i64.
fn read_int_npy(path: &Path) -> Result<Array2<i64>> {
    fn try_read<T: ndarray_npy::ReadableElement + Copy + Into<i128>>(
        p: &Path,
    ) -> Result<Array2<i64>, String> {
        let f = std::fs::File::open(p).map_err(|e| format!("cannot open: {e}"))?;
        let a = Array2::<T>::read_npy(std::io::BufReader::new(f)).map_err(|e| e.to_string())?;
        a.iter()
            .map(|&v| i64::try_from(v.into()).map_err(|_| "a value does not fit int64".to_string()))
            .collect::<Result<Vec<_>, _>>()
            .map(|v| Array2::from_shape_vec(a.dim(), v).expect("same shape"))
    }
    type Reader = fn(&Path) -> Result<Array2<i64>, String>;
    let readers: [Reader; 8] = [
        try_read::<i64>,
        try_read::<i32>,
        try_read::<i16>,
        try_read::<i8>,
        try_read::<u8>,
        try_read::<u16>,
        try_read::<u32>,
        try_read::<u64>,
    ];
    let mut first_err = None;
    for read in readers {
        match read(path) {
            Ok(a) => return Ok(a),
            Err(e) => {
                if e.starts_with("cannot open") {
                    return Err(anyhow!("{}: {e}", path.display()));
                }
                first_err.get_or_insert(e);
            }
        }
    }
    Err(anyhow!(
        "{}: not a 2-D integer .npy ({}); allowed: a 2-D array of int8..int64 or uint8..uint64",
        path.display(),
        first_err.unwrap_or_default()
    ))
}
