//! "Is the 8-bit ADC enough for this network?": a detector run bit-faithfully at every ADC
//! resolution, with column flipping on and off, noiseless and with conductance noise; per
//! point mAP@0.5 (95 % CI), mAP against the float detections, and every crossbar layer's ADC
//! saturation rate. Each point is one `run_detector` execution; points are written as they
//! finish (`points::PointsFile`) and a rerun resumes.

use crate::points::PointsFile;
use nestevo_arch::{apply_overrides, ArchSpec};
use nestevo_cim::{NoiseMode, NoiseSpec};
use nestevo_couple::detector::{run_detector, RunConfig};
use nestevo_couple::CoupleError;
use nestevo_model::{ModelDesc, Tensors};
use std::path::Path;

/// The grid.
#[derive(Debug, Clone)]
pub struct AdcGrid {
    pub bits: Vec<u32>,
    pub flip: Vec<bool>,
    pub mus: Vec<f64>,
    /// Noise mode of the points with mu > 0.
    pub mode: NoiseMode,
    /// Noise draws per point with mu > 0 (seeds seed, seed + 1, ...).
    pub draws: usize,
    pub seed: u64,
}

/// The fixed columns before one saturation column per crossbar layer.
pub const COLUMNS: [&str; 11] = [
    "adc_bits",
    "flip",
    "noise",
    "mu",
    "draw",
    "map50",
    "map50_lo",
    "map50_hi",
    "cim_vs_float_map50",
    "float_map50",
    "saturation_total",
];

/// Runs every point not yet in `out` (CSV), printing progress; returns the file.
pub fn adc_sweep(
    desc: &ModelDesc,
    tensors: &Tensors,
    base: &ArchSpec,
    cfg: &RunConfig,
    grid: &AdcGrid,
    out: &Path,
) -> Result<PointsFile, CoupleError> {
    nestevo_core::check!(grid.draws >= 1, "--draws must be at least 1");
    let layers: Vec<String> = nestevo_ppa::map_network(base, desc)?
        .layers
        .iter()
        .map(|l| format!("sat:{}", l.name))
        .collect();
    let mut header: Vec<&str> = COLUMNS.to_vec();
    header.extend(layers.iter().map(String::as_str));
    let identity = crate::points::detector_run(
        desc,
        tensors,
        base,
        &cfg.frames,
        cfg.calib_frames,
        grid.seed,
    );
    let mut file = PointsFile::open(out, &header, 5)?
        .bound_to(&identity)?
        .numeric(&header[5..])?;
    let mut points = Vec::new();
    for &b in &grid.bits {
        for &f in &grid.flip {
            for &mu in &grid.mus {
                let draws = if mu > 0.0 { grid.draws } else { 1 };
                for d in 0..draws {
                    points.push((b, f, mu, d));
                }
            }
        }
    }
    let n = points.len();
    for (k, &(b, f, mu, d)) in points.iter().enumerate() {
        let mode = if mu > 0.0 { grid.mode } else { NoiseMode::None };
        let key = vec![
            b.to_string(),
            f.to_string(),
            mode.name().to_string(),
            mu.to_string(),
            d.to_string(),
        ];
        if file.done(&key) {
            eprintln!(
                "[{}/{n}] adc {b} bits, flip {f}, mu {mu}, draw {d}: done before",
                k + 1
            );
            continue;
        }
        let spec = apply_overrides(
            base,
            &[format!("adc.bits={b}"), format!("encoding.flip={f}")],
            &base.name,
        )?;
        let mut c = cfg.clone();
        c.noise = NoiseSpec::from_flags(mode, mu, 0.0, grid.seed + d as u64)?;
        let t = std::time::Instant::now();
        let r = run_detector(desc, tensors, &spec, &c)?;
        let ci = r.cim.ci95.map(|c| c.map50);
        let mut row = key;
        row.extend([
            format!("{:.5}", r.cim.map50),
            format!("{:.5}", ci.map_or(f64::NAN, |i| i.lo)),
            format!("{:.5}", ci.map_or(f64::NAN, |i| i.hi)),
            format!("{:.5}", r.cim_vs_float.map50),
            format!("{:.5}", r.float.map50),
            format!("{:.6e}", r.adc_saturation_rate),
        ]);
        for l in &r.cost.layers {
            row.push(format!("{:.6e}", l.saturation_rate));
        }
        file.push(row)?;
        eprintln!(
            "[{}/{n}] adc {b} bits, flip {f}, mu {mu}, draw {d}: mAP@0.5 {:.4}, saturation {:.4} % ({:.1} s)",
            k + 1,
            r.cim.map50,
            100.0 * r.adc_saturation_rate,
            t.elapsed().as_secs_f64()
        );
    }
    Ok(file)
}

/// Mean and sample standard deviation.
pub fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, var.sqrt())
}

/// Markdown table (draws averaged) and a plot of mAP@0.5 against ADC bits per (flip, mu).
pub fn summarise(file: &PointsFile, plot: Option<&Path>) -> Result<String, CoupleError> {
    let h = file.header();
    let sat_cols: Vec<usize> = (0..h.len()).filter(|&i| h[i].starts_with("sat:")).collect();
    let mut keys: Vec<(u32, String, String)> = Vec::new();
    for r in file.rows() {
        let k = (r[0].parse().unwrap_or(0), r[1].clone(), r[3].clone());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys.sort_by(|a, b| (&a.1, &a.2, a.0).cmp(&(&b.1, &b.2, b.0)));
    let mut s = String::from(
        "| ADC bits | flipping | mu | draws | mAP@0.5 (mean +- sd) | vs float detections | saturation (all layers) | worst layer |\n|---|---|---|---|---|---|---|---|\n",
    );
    let mut curves: Vec<crate::plot::Curve> = Vec::new();
    for (b, f, mu) in &keys {
        let rows: Vec<&Vec<String>> = file
            .rows()
            .iter()
            .filter(|r| r[0] == b.to_string() && &r[1] == f && &r[3] == mu)
            .collect();
        let get = |c: &str| -> Vec<f64> { rows.iter().map(|r| file.num(r, c)).collect() };
        let (m, sd) = mean_sd(&get("map50"));
        let (vf, _) = mean_sd(&get("cim_vs_float_map50"));
        let (sat, _) = mean_sd(&get("saturation_total"));
        let worst = sat_cols
            .iter()
            .map(|&i| {
                let v: Vec<f64> = rows
                    .iter()
                    .map(|r| r[i].parse().unwrap_or(f64::NAN))
                    .collect();
                (mean_sd(&v).0, h[i].trim_start_matches("sat:").to_string())
            })
            .fold(
                (f64::MIN, String::new()),
                |a, x| if x.0 > a.0 { x } else { a },
            );
        s += &format!(
            "| {b} | {f} | {mu} | {} | {m:.4} +- {sd:.4} | {vf:.4} | {:.4} % | {} {:.4} % |\n",
            rows.len(),
            100.0 * sat,
            worst.1,
            100.0 * worst.0
        );
        let name = format!("flip {f}, mu {mu}");
        match curves.iter_mut().find(|c| c.name == name) {
            Some(c) => c.points.push((*b as f64, m, sd)),
            None => curves.push(crate::plot::Curve {
                name,
                points: vec![(*b as f64, m, sd)],
            }),
        }
    }
    if let Some(p) = plot {
        crate::plot::curves(
            p,
            "crossbar mAP@0.5 against ADC resolution",
            "ADC bits",
            "mAP@0.5",
            &curves,
        )
        .map_err(|e| CoupleError::Invalid(format!("plot {}: {e}", p.display())))?;
    }
    Ok(s)
}
