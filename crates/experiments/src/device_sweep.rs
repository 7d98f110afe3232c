//! The chip's accuracy under device laws other than Eq. 18-20: conductance drift at a series of
//! times after programming (with and without global drift compensation) and stuck-at faults at
//! a series of rates. Each point is the description with its laws (`nestevo_device`), run
//! bit-faithfully on the same frames of several streams for each draw (draw d programs with
//! noise seed `seed + d` at every point, so points are paired by draw and by frame). The ideal
//! chip (no law: the exact product) is the reference. Points are written as they finish and a
//! rerun resumes (`points::PointsFile`).

use crate::plot::{curves, Curve};
use crate::points::PointsFile;
use nestevo_arch::ArchSpec;
use nestevo_cim::{Backend, NoiseSpec};
use nestevo_couple::detector::{run_detector, RunConfig};
use nestevo_couple::CoupleError;
use nestevo_device::LawSpec;
use nestevo_eval::paired::{mean_interval, paired};
use nestevo_eval::HeldOut;
use nestevo_model::{ModelDesc, Tensors};
use std::path::Path;

/// One point of the sweep: a group (a curve), its x value and the laws it adds.
#[derive(Debug, Clone)]
pub struct Point {
    pub group: String,
    pub x: f64,
    pub laws: Vec<LawSpec>,
}

/// The drift and stuck-at grid: `drift` and `drift-compensated` at each time (seconds after
/// programming), `stuck-off` and `stuck-on` at each rate, and the ideal chip.
pub fn grid(times_s: &[f64], rates: &[f64], drift_extra: &str) -> Result<Vec<Point>, CoupleError> {
    let law = |s: String| -> Result<LawSpec, CoupleError> {
        s.parse()
            .map_err(|e: nestevo_device::DeviceError| CoupleError::Invalid(e.to_string()))
    };
    let extra = if drift_extra.is_empty() {
        String::new()
    } else {
        format!(",{drift_extra}")
    };
    let mut v = vec![Point {
        group: "ideal".into(),
        x: 0.0,
        laws: vec![],
    }];
    for &t in times_s {
        for (g, c) in [("drift", false), ("drift-compensated", true)] {
            v.push(Point {
                group: g.into(),
                x: t,
                laws: vec![law(format!("drift:time_s={t},compensate={c}{extra}"))?],
            });
        }
    }
    for &r in rates {
        for (g, key) in [("stuck-off", "off_rate"), ("stuck-on", "on_rate")] {
            v.push(Point {
                group: g.into(),
                x: r,
                laws: vec![law(format!("stuck:{key}={r}"))?],
            });
        }
    }
    Ok(v)
}

pub struct DeviceSweep {
    pub points: Vec<Point>,
    /// The scored frames: one set per stream.
    pub sets: Vec<HeldOut>,
    pub draws: usize,
    pub seed: u64,
    pub calib_frames: usize,
    pub arch: ArchSpec,
    pub backend: Backend,
}

pub const COLUMNS: [&str; 9] = [
    "group",
    "x",
    "draw",
    "stream",
    "laws",
    "map50",
    "cim_vs_float_map50",
    "float_map50",
    "seconds",
];

/// Each point's laws checked against `arch` (the description with the laws it adds), naming
/// the point of the first that the laws refuse.
pub fn check_points(arch: &ArchSpec, points: &[Point]) -> Result<(), CoupleError> {
    for p in points {
        let mut spec = arch.clone();
        spec.device.laws.extend(p.laws.iter().cloned());
        spec.device_laws(&spec.name)
            .map_err(|e| CoupleError::Invalid(format!("point {} x {}: {e}", p.group, p.x)))?;
    }
    Ok(())
}

/// Runs every (point, draw, stream) not yet in `out`, printing progress.
pub fn device_sweep(
    desc: &ModelDesc,
    tensors: &Tensors,
    s: &DeviceSweep,
    out: &Path,
) -> Result<PointsFile, CoupleError> {
    nestevo_core::check!(s.draws >= 1, "--draws must be at least 1");
    nestevo_core::check!(!s.sets.is_empty(), "--streams: give at least one stream");
    let identity =
        crate::points::detector_run(desc, tensors, &s.arch, &s.sets, s.calib_frames, s.seed);
    let mut file = PointsFile::open(out, &COLUMNS, 4)?
        .bound_to(&identity)?
        .numeric(&COLUMNS[5..])?;
    // Every point's laws against the description before any point runs.
    check_points(&s.arch, &s.points)?;
    let mut todo = Vec::new();
    for p in &s.points {
        // The ideal chip draws nothing: one draw.
        let draws = if p.laws.is_empty() { 1 } else { s.draws };
        for d in 0..draws {
            for set in &s.sets {
                todo.push((p, d, set));
            }
        }
    }
    let n = todo.len();
    for (k, (p, d, set)) in todo.into_iter().enumerate() {
        let key = vec![
            p.group.clone(),
            p.x.to_string(),
            d.to_string(),
            set.stream.name().to_string(),
        ];
        if file.done(&key) {
            continue;
        }
        let mut spec = s.arch.clone();
        spec.device.laws.extend(p.laws.iter().cloned());
        let cfg = RunConfig {
            frames: *set,
            calib_frames: s.calib_frames,
            noise: NoiseSpec {
                seed: s.seed + d as u64,
                ..Default::default()
            },
            backend: s.backend.clone(),
            batch: nestevo_couple::FRAMES_PER_FORWARD,
        };
        let t = std::time::Instant::now();
        let r = run_detector(desc, tensors, &spec, &cfg)?;
        let secs = t.elapsed().as_secs_f64();
        // A law's parameters are separated by ';' here: the file is comma-separated.
        let laws: Vec<String> = p
            .laws
            .iter()
            .map(|l| l.to_string().replace(',', ";"))
            .collect();
        let mut row = key;
        row.extend([
            laws.join(" "),
            format!("{:.5}", r.cim.map50),
            format!("{:.5}", r.cim_vs_float.map50),
            format!("{:.5}", r.float.map50),
            format!("{secs:.2}"),
        ]);
        file.push(row)?;
        eprintln!(
            "[{}/{n}] {} x {} draw {d} stream {}: mAP@0.5 {:.4} ({secs:.1} s)",
            k + 1,
            p.group,
            p.x,
            set.stream.name(),
            r.cim.map50
        );
    }
    Ok(file)
}

/// Per point: the mAP averaged over the streams for each draw, its mean over draws with a 95 %
/// t interval, and the paired difference to the ideal chip (same frames). A table per group,
/// and, in `plot_dir`, `drift.png` (mAP against log10 time) and `stuck.png` (mAP against rate).
pub fn summarise(file: &PointsFile, plot_dir: Option<&Path>) -> Result<String, CoupleError> {
    let rows = file.rows();
    let per_draw = |g: &str, x: &str| -> Vec<f64> {
        let mut draws: Vec<&str> = rows
            .iter()
            .filter(|r| r[0] == g && r[1] == x)
            .map(|r| r[2].as_str())
            .collect();
        draws.sort();
        draws.dedup();
        draws
            .iter()
            .map(|d| {
                let v: Vec<f64> = rows
                    .iter()
                    .filter(|r| r[0] == g && r[1] == x && r[2] == *d)
                    .map(|r| file.num(r, "map50"))
                    .collect();
                v.iter().sum::<f64>() / v.len() as f64
            })
            .collect()
    };
    let ideal = per_draw("ideal", "0");
    let ideal_map = ideal.first().copied().unwrap_or(f64::NAN);
    let float: Vec<f64> = rows
        .iter()
        .filter(|r| r[0] == "ideal")
        .map(|r| file.num(r, "float_map50"))
        .collect();
    let streams: Vec<&str> = {
        let mut s: Vec<&str> = rows.iter().map(|r| r[3].as_str()).collect();
        s.sort();
        s.dedup();
        s
    };
    let mut out = format!(
        "Streams {}; mAP@0.5 averaged over them. Float model {:.4}, ideal chip {:.4}.\n\n\
         | law | x | draws | mAP@0.5 (95 % CI over draws) | minus the ideal chip (paired, 95 % CI) |\n\
         |---|---|---|---|---|\n",
        streams.join(", "),
        float.iter().sum::<f64>() / float.len().max(1) as f64,
        ideal_map
    );
    let mut groups: Vec<(String, Vec<(f64, String)>)> = Vec::new();
    for r in rows {
        let x: f64 = r[1].parse().unwrap_or(f64::NAN);
        match groups.iter_mut().find(|(g, _)| *g == r[0]) {
            Some((_, xs)) => {
                if !xs.iter().any(|(_, s)| *s == r[1]) {
                    xs.push((x, r[1].clone()));
                }
            }
            None => groups.push((r[0].clone(), vec![(x, r[1].clone())])),
        }
    }
    let mut drift = Vec::new();
    let mut stuck = Vec::new();
    for (g, xs) in &mut groups {
        if g == "ideal" {
            continue;
        }
        xs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut pts = Vec::new();
        for (x, xs_) in xs.iter() {
            let v = per_draw(g, xs_);
            let e = mean_interval(&v);
            let d = paired(&v, &vec![ideal_map; v.len()]);
            out += &format!(
                "| {g} | {x} | {} | {:.4} [{:.4}, {:.4}] | {} ({}) |\n",
                v.len(),
                e.mean,
                e.lo,
                e.hi,
                d.signed(),
                d.verdict()
            );
            let half = if e.hi.is_finite() { e.hi - e.mean } else { 0.0 };
            let px = if g.starts_with("drift") {
                x.log10()
            } else {
                x * 100.0
            };
            pts.push((px, e.mean, half));
        }
        let c = Curve {
            name: g.clone(),
            points: pts,
        };
        if g.starts_with("drift") {
            drift.push(c);
        } else {
            stuck.push(c);
        }
    }
    if let Some(dir) = plot_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| nestevo_core::error::IoError::new(dir, "create", e))?;
        let ideal_line = |xs: &[Curve]| -> Option<Curve> {
            let x: Vec<f64> = xs
                .iter()
                .flat_map(|c| c.points.iter().map(|p| p.0))
                .collect();
            let (a, b) = (
                x.iter().copied().fold(f64::MAX, f64::min),
                x.iter().copied().fold(f64::MIN, f64::max),
            );
            (a.is_finite() && ideal_map.is_finite()).then(|| Curve {
                name: "ideal chip".into(),
                points: vec![(a, ideal_map, 0.0), (b, ideal_map, 0.0)],
            })
        };
        for (name, mut cs, xd) in [
            ("drift.png", drift, "log10 time after programming (s)"),
            ("stuck.png", stuck, "stuck cells (% of all cells)"),
        ] {
            if cs.is_empty() {
                continue;
            }
            if let Some(l) = ideal_line(&cs) {
                cs.push(l);
            }
            curves(
                &dir.join(name),
                &format!("Global model on the chip: {}", &name[..name.len() - 4]),
                xd,
                "mAP@0.5 (mean over draws, 95 % CI)",
                &cs,
            )
            .map_err(CoupleError::Invalid)?;
        }
    }
    Ok(out)
}
