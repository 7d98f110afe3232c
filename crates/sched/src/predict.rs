//! Training-time prediction (SPEC 4, the paper's Section 6.1): a 3-layer MLP regression on
//! ndarray from a job's features to its training time, and the plain baseline it must beat.
//!
//! Features (12): ln P, ln MACs/frame, ln A (activations/frame), ln frames, ln steps, ln batch,
//! ln(MACs * batch), ln(A * batch), and the kind one-hot (4); each standardised by the
//! training set's mean and deviation. Target: the time of one step, ln(t / steps),
//! standardised (a run's time is its steps times the time of one step, so the network learns
//! the step, which varies far less than the run). Network: 12 -> 32 -> 16 -> 1 with ReLU,
//! trained full-batch by Adam on the mean squared error of the log (seeded initialisation,
//! L2 decay), so that the relative error is what is minimised. Baseline:
//! `t = c * MACs/frame * batch * steps` (the "MACs x frames x steps", with frames
//! processed = batch x steps), `c` the geometric mean of `t / (MACs * batch * steps)` over the
//! training runs.

use super::error::{Result, SchedError};
use super::job::{JobKind, Work};
use ndarray::{Array1, Array2, Axis};
use nestevo_core::error::{Invalid, IoError};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const FEATURES: usize = 12;
const FORMAT: &str = "nestevo-sched-mlp-2";

/// One profiled run: what the predictor learns from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub kind: JobKind,
    pub work: Work,
    pub seconds: f64,
}

pub fn features(kind: JobKind, w: &Work) -> [f64; FEATURES] {
    let mut x = [0.0; FEATURES];
    x[0] = w.params.ln();
    x[1] = w.macs_per_frame.ln();
    x[2] = w.act_per_frame.ln();
    x[3] = w.frames.ln();
    x[4] = w.steps.ln();
    x[5] = w.batch.ln();
    x[6] = (w.macs_per_frame * w.batch).ln();
    x[7] = (w.act_per_frame * w.batch).ln();
    x[8 + kind.index()] = 1.0;
    x
}

/// The baseline: time proportional to the MACs the job computes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Seconds per forward MAC of training (forward, backward and step together).
    pub seconds_per_mac: f64,
}

impl Baseline {
    pub fn fit(samples: &[Sample]) -> Baseline {
        let n = samples.len().max(1) as f64;
        let m = samples
            .iter()
            .map(|s| (s.seconds / (s.work.macs_per_frame * s.work.batch * s.work.steps)).ln())
            .sum::<f64>()
            / n;
        Baseline {
            seconds_per_mac: m.exp(),
        }
    }

    pub fn predict(&self, w: &Work) -> f64 {
        self.seconds_per_mac * w.macs_per_frame * w.batch * w.steps
    }
}

/// The 3-layer MLP and its standardisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mlp {
    pub format: String,
    pub x_mean: Vec<f64>,
    pub x_std: Vec<f64>,
    pub y_mean: f64,
    pub y_std: f64,
    pub w1: Vec<Vec<f64>>,
    pub b1: Vec<f64>,
    pub w2: Vec<Vec<f64>>,
    pub b2: Vec<f64>,
    pub w3: Vec<Vec<f64>>,
    pub b3: Vec<f64>,
    /// The baseline fitted on the same runs (reported beside the MLP).
    pub baseline: Baseline,
    /// Runs it was trained on.
    pub trained_on: usize,
    /// The memory model's workspace measured on the same runs (MB); 0 if not measured.
    #[serde(default)]
    pub workspace_mb: f64,
    /// The memory model's per-kind terms fitted on the same runs, where fitted.
    #[serde(default)]
    pub memory_per_kind: Option<[super::memory::KindFit; 4]>,
}

/// Training settings.
#[derive(Debug, Clone, Copy)]
pub struct FitConfig {
    pub hidden: [usize; 2],
    pub epochs: usize,
    pub lr: f64,
    /// L2 weight decay.
    pub decay: f64,
    pub seed: u64,
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            hidden: [32, 16],
            epochs: 3000,
            lr: 3e-3,
            decay: 1e-3,
            seed: 0,
        }
    }
}

fn to2(a: &Array2<f64>) -> Vec<Vec<f64>> {
    a.rows().into_iter().map(|r| r.to_vec()).collect()
}

fn from2(v: &[Vec<f64>], rows: usize, cols: usize, file: &str, field: &str) -> Result<Array2<f64>> {
    if v.len() != rows || v.iter().any(|r| r.len() != cols) {
        return Err(Invalid::new(
            file,
            field,
            format!("{} rows", v.len()),
            format!("a {rows} x {cols} matrix"),
        )
        .into());
    }
    let flat: Vec<f64> = v.iter().flatten().copied().collect();
    if flat.iter().any(|x| !x.is_finite()) {
        return Err(Invalid::new(file, field, "non-finite", "finite weights").into());
    }
    Ok(Array2::from_shape_vec((rows, cols), flat).expect("shape checked"))
}

struct Net {
    w: [Array2<f64>; 3],
    b: [Array1<f64>; 3],
}

impl Net {
    /// Forward pass on standardised rows; returns every layer's pre-activation and output.
    fn forward(&self, x: &Array2<f64>) -> (Vec<Array2<f64>>, Array2<f64>) {
        let mut acts = vec![x.clone()];
        let mut h = x.clone();
        for l in 0..3 {
            let z = h.dot(&self.w[l]) + &self.b[l];
            h = if l < 2 { z.mapv(|v| v.max(0.0)) } else { z };
            acts.push(h.clone());
        }
        (acts, h)
    }
}

impl Mlp {
    /// Fits the MLP (and the baseline) on `samples`.
    pub fn fit(samples: &[Sample], cfg: &FitConfig) -> Result<Mlp> {
        if samples.len() < 8 {
            return Err(SchedError::Invalid(format!(
                "the time predictor needs at least 8 profiled runs, got {}",
                samples.len()
            )));
        }
        for (k, s) in samples.iter().enumerate() {
            let w = &s.work;
            let all = [
                w.params,
                w.macs_per_frame,
                w.act_per_frame,
                w.frames,
                w.steps,
                w.batch,
                s.seconds,
            ];
            if all.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
                return Err(SchedError::Invalid(format!(
                    "profiled run {k}: every feature and the time must be above 0, got {all:?}"
                )));
            }
        }
        let n = samples.len();
        let mut x = Array2::<f64>::zeros((n, FEATURES));
        for (i, s) in samples.iter().enumerate() {
            for (j, v) in features(s.kind, &s.work).iter().enumerate() {
                x[[i, j]] = *v;
            }
        }
        let x_mean = x.mean_axis(Axis(0)).expect("rows");
        let x_std = x
            .std_axis(Axis(0), 0.0)
            .mapv(|s| if s > 1e-9 { s } else { 1.0 });
        let xs = (&x - &x_mean) / &x_std;
        let y: Array1<f64> = samples
            .iter()
            .map(|s| (s.seconds / s.work.steps).ln())
            .collect();
        let y_mean = y.mean().expect("rows");
        let y_std = y.std(0.0).max(1e-9);
        let ys = ((&y - y_mean) / y_std).insert_axis(Axis(1));

        let dims = [FEATURES, cfg.hidden[0], cfg.hidden[1], 1];
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let mut init = |r: usize, c: usize| {
            let d = Normal::new(0.0, (2.0 / r as f64).sqrt()).expect("positive");
            Array2::from_shape_fn((r, c), |_| d.sample(&mut rng))
        };
        let mut net = Net {
            w: [
                init(dims[0], dims[1]),
                init(dims[1], dims[2]),
                init(dims[2], dims[3]),
            ],
            b: [
                Array1::zeros(dims[1]),
                Array1::zeros(dims[2]),
                Array1::zeros(dims[3]),
            ],
        };
        // Adam state.
        let mut mw: Vec<Array2<f64>> = net.w.iter().map(|w| Array2::zeros(w.raw_dim())).collect();
        let mut vw = mw.clone();
        let mut mb: Vec<Array1<f64>> = net.b.iter().map(|b| Array1::zeros(b.raw_dim())).collect();
        let mut vb = mb.clone();
        let (b1, b2, eps) = (0.9, 0.999, 1e-8);
        for t in 1..=cfg.epochs {
            let (acts, out) = net.forward(&xs);
            // d(mean squared error)/d(out).
            let mut g = (&out - &ys) * (2.0 / n as f64);
            for l in (0..3).rev() {
                let gw = acts[l].t().dot(&g) + &net.w[l] * cfg.decay;
                let gb = g.sum_axis(Axis(0));
                if l > 0 {
                    let back = g.dot(&net.w[l].t());
                    g = back * &acts[l].mapv(|v| if v > 0.0 { 1.0 } else { 0.0 });
                }
                let (c1, c2) = (1.0 - f64::powi(b1, t as i32), 1.0 - f64::powi(b2, t as i32));
                mw[l] = &mw[l] * b1 + &gw * (1.0 - b1);
                vw[l] = &vw[l] * b2 + &gw.mapv(|v| v * v) * (1.0 - b2);
                net.w[l] =
                    &net.w[l] - &((&mw[l] / c1) / ((&vw[l] / c2).mapv(f64::sqrt) + eps) * cfg.lr);
                mb[l] = &mb[l] * b1 + &gb * (1.0 - b1);
                vb[l] = &vb[l] * b2 + &gb.mapv(|v| v * v) * (1.0 - b2);
                net.b[l] =
                    &net.b[l] - &((&mb[l] / c1) / ((&vb[l] / c2).mapv(f64::sqrt) + eps) * cfg.lr);
            }
        }
        Ok(Mlp {
            format: FORMAT.into(),
            x_mean: x_mean.to_vec(),
            x_std: x_std.to_vec(),
            y_mean,
            y_std,
            w1: to2(&net.w[0]),
            b1: net.b[0].to_vec(),
            w2: to2(&net.w[1]),
            b2: net.b[1].to_vec(),
            w3: to2(&net.w[2]),
            b3: net.b[2].to_vec(),
            baseline: Baseline::fit(samples),
            trained_on: n,
            workspace_mb: 0.0,
            memory_per_kind: None,
        })
    }

    fn net(&self, file: &str) -> Result<Net> {
        let h0 = self.b1.len();
        let h1 = self.b2.len();
        if self.b3.len() != 1 || h0 == 0 || h1 == 0 {
            return Err(Invalid::new(
                file,
                "b3",
                self.b3.len(),
                "one output and non-empty hidden layers",
            )
            .into());
        }
        Ok(Net {
            w: [
                from2(&self.w1, FEATURES, h0, file, "w1")?,
                from2(&self.w2, h0, h1, file, "w2")?,
                from2(&self.w3, h1, 1, file, "w3")?,
            ],
            b: [
                Array1::from(self.b1.clone()),
                Array1::from(self.b2.clone()),
                Array1::from(self.b3.clone()),
            ],
        })
    }

    /// Predicted training time (s).
    pub fn predict(&self, kind: JobKind, w: &Work) -> f64 {
        let net = self.net("").expect("validated on fit or load");
        let x = features(kind, w);
        let row = Array1::from_iter((0..FEATURES).map(|j| (x[j] - self.x_mean[j]) / self.x_std[j]));
        let (_, out) = net.forward(&row.insert_axis(Axis(0)));
        w.steps * (out[[0, 0]] * self.y_std + self.y_mean).exp()
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let text =
            serde_json::to_string_pretty(self).map_err(|e| SchedError::Fault(e.to_string()))?;
        nestevo_core::error::write_atomic(path, text.as_bytes())?;
        Ok(())
    }

    pub fn load(path: &Path) -> Result<Mlp> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| IoError::new(path, "read", e))?;
        let m: Mlp = serde_json::from_str(&text)
            .map_err(|e| SchedError::Invalid(format!("{file}: not a time-predictor file: {e}")))?;
        if m.format != FORMAT {
            return Err(Invalid::new(&file, "format", &m.format, format!("`{FORMAT}`")).into());
        }
        if m.x_mean.len() != FEATURES
            || m.x_std.len() != FEATURES
            || m.x_std.iter().any(|s| s.is_nan() || *s <= 0.0)
        {
            return Err(Invalid::new(
                &file,
                "x_std",
                format!("{} values", m.x_std.len()),
                format!("{FEATURES} deviations above 0"),
            )
            .into());
        }
        if m.y_std.is_nan() || m.y_std <= 0.0 || !m.y_mean.is_finite() {
            return Err(Invalid::new(&file, "y_std", m.y_std, "a deviation above 0").into());
        }
        m.net(&file)?;
        Ok(m)
    }
}

/// Mean absolute percentage error and worst case (both in %) of `pred` against `truth`.
pub fn mape(pred: &[f64], truth: &[f64]) -> (f64, f64) {
    let e: Vec<f64> = pred
        .iter()
        .zip(truth)
        .map(|(p, t)| 100.0 * (p - t).abs() / t)
        .collect();
    let n = e.len().max(1) as f64;
    (
        e.iter().sum::<f64>() / n,
        e.iter().cloned().fold(0.0, f64::max),
    )
}

/// Where times come from: the MLP, or the baseline alone.
#[derive(Debug, Clone)]
pub enum TimeModel {
    Mlp(Box<Mlp>),
    Baseline(Baseline),
}

impl TimeModel {
    pub fn predict(&self, kind: JobKind, w: &Work) -> f64 {
        match self {
            TimeModel::Mlp(m) => m.predict(kind, w),
            TimeModel::Baseline(b) => b.predict(w),
        }
    }
}
