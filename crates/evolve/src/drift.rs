//! The drift statistic of Eq. 11-13.
//!
//! `g` is the global model's feature map at one named layer (by default `head_relu`, the
//! input of the detector's heads, which is also the generator's latent space). Each
//! pseudo-labelled box contributes one vector: `g` averaged over the feature-map cells the
//! box covers (at least its centre cell). Per class c this gives a mean and a standard
//! deviation per feature dimension. For terminal i,
//!
//! `delta_i = sum_c || (mean_train^c - mean_i^c) / std(X_train^c u X_i^c) ||_2`
//!
//! over the classes seen in both sets, the standard deviation taken per dimension over the
//! union of the two sets of vectors (the paper's `X_i^c = X_train^c u X_test,i^c`);
//! dimensions that are constant over the union (dead channels) contribute nothing.
//! `delta_global = #{i : delta_i > gamma}`, and `delta_global < epsilon` means distillation
//! only, otherwise co-evolution. The training-data statistics are computed once with the same
//! pooling on pseudo boxes of source frames and stored beside the global checkpoint.

use super::error::{EvolveError, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Count, mean and sum of squared deviations (Welford) of one class's vectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassStats {
    pub count: usize,
    pub mean: Vec<f64>,
    pub m2: Vec<f64>,
}

impl ClassStats {
    fn new(dim: usize) -> Self {
        Self {
            count: 0,
            mean: vec![0.0; dim],
            m2: vec![0.0; dim],
        }
    }

    fn add(&mut self, v: &[f32]) {
        self.count += 1;
        let n = self.count as f64;
        for ((m, s), &x) in self.mean.iter_mut().zip(&mut self.m2).zip(v) {
            let d = x as f64 - *m;
            *m += d / n;
            *s += d * (x as f64 - *m);
        }
    }

    /// Population variance per dimension.
    pub fn var(&self) -> Vec<f64> {
        let n = self.count.max(1) as f64;
        self.m2.iter().map(|s| s / n).collect()
    }

    /// The statistics of the union of two sets (Chan et al.'s parallel combination).
    pub fn union(&self, o: &ClassStats) -> ClassStats {
        let (na, nb) = (self.count as f64, o.count as f64);
        let n = na + nb;
        if n == 0.0 {
            return self.clone();
        }
        let mut out = ClassStats::new(self.mean.len());
        out.count = self.count + o.count;
        for k in 0..self.mean.len() {
            let d = o.mean[k] - self.mean[k];
            out.mean[k] = self.mean[k] + d * nb / n;
            out.m2[k] = self.m2[k] + o.m2[k] + d * d * na * nb / n;
        }
        out
    }
}

/// Per-class feature statistics of one set of frames (index = class).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureStats {
    /// The layer the vectors come from.
    pub layer: String,
    pub dim: usize,
    pub classes: Vec<ClassStats>,
}

impl FeatureStats {
    pub fn new(layer: &str, classes: usize, dim: usize) -> Self {
        Self {
            layer: layer.to_string(),
            dim,
            classes: (0..classes).map(|_| ClassStats::new(dim)).collect(),
        }
    }

    /// Adds one pooled box vector of class `class`.
    pub fn add(&mut self, class: usize, v: &[f32]) -> Result<()> {
        if class >= self.classes.len() || v.len() != self.dim {
            return Err(EvolveError::BadInput(format!(
                "drift statistics of layer {}: a vector of class {class} and length {} does \
                 not fit {} classes of dimension {}",
                self.layer,
                v.len(),
                self.classes.len(),
                self.dim
            )));
        }
        self.classes[class].add(v);
        Ok(())
    }

    /// Vectors added, over all classes.
    pub fn boxes(&self) -> usize {
        self.classes.iter().map(|c| c.count).sum()
    }

    /// Writes the statistics as JSON, atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string(self).map_err(|e| EvolveError::Fault(e.to_string()))?;
        Ok(nestevo_core::error::write_atomic(path, text.as_bytes())?)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| EvolveError::BadInput(format!("reading {}: {e}", path.display())))?;
        serde_json::from_str(&text)
            .map_err(|e| EvolveError::BadInput(format!("drift statistics {}: {e}", path.display())))
    }
}

/// Mean of a [C, h, w] feature map (row-major `data`) over the cells a box in input pixels
/// covers, on a map of `stride` input pixels per cell; at least the cell of the box's centre.
pub fn pool_box(data: &[f32], chw: [usize; 3], stride: f32, b: [f32; 4]) -> Vec<f32> {
    let [c, h, w] = chw;
    let cell = |v: f32, n: usize| ((v / stride).floor().max(0.0) as usize).min(n - 1);
    let (cx, cy) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
    let (mut x0, mut y0) = (cell(b[0], w), cell(b[1], h));
    // The box [x0, x1) ends in the cell before x1 / stride when x1 falls on a cell edge.
    let (mut x1, mut y1) = (cell(b[2] - 1e-3, w), cell(b[3] - 1e-3, h));
    if x1 < x0 || y1 < y0 {
        (x0, y0) = (cell(cx, w), cell(cy, h));
        (x1, y1) = (x0, y0);
    }
    let cells = ((x1 - x0 + 1) * (y1 - y0 + 1)) as f32;
    (0..c)
        .map(|k| {
            let plane = &data[k * h * w..][..h * w];
            let mut s = 0.0f32;
            for y in y0..=y1 {
                for x in x0..=x1 {
                    s += plane[y * w + x];
                }
            }
            s / cells
        })
        .collect()
}

/// delta_i with its per-class terms.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delta {
    pub delta: f64,
    /// (class, term, boxes of the terminal) for the classes seen in both sets.
    pub per_class: Vec<(usize, f64, usize)>,
}

/// Eq. 11 between the training statistics and a terminal's.
pub fn delta(train: &FeatureStats, terminal: &FeatureStats) -> Result<Delta> {
    if train.dim != terminal.dim || train.classes.len() != terminal.classes.len() {
        return Err(EvolveError::BadInput(format!(
            "drift: training statistics of layer {} ({} classes, dimension {}) and the \
             terminal's of layer {} ({} classes, dimension {}) do not match",
            train.layer,
            train.classes.len(),
            train.dim,
            terminal.layer,
            terminal.classes.len(),
            terminal.dim
        )));
    }
    let mut per_class = Vec::new();
    for (c, (a, b)) in train.classes.iter().zip(&terminal.classes).enumerate() {
        if a.count == 0 || b.count == 0 {
            continue;
        }
        let var = a.union(b).var();
        let sq: f64 = (0..train.dim)
            .filter(|&k| var[k] > 1e-24)
            .map(|k| {
                let z = (a.mean[k] - b.mean[k]) / var[k].sqrt();
                z * z
            })
            .sum();
        per_class.push((c, sq.sqrt(), b.count));
    }
    Ok(Delta {
        delta: per_class.iter().map(|p| p.1).sum(),
        per_class,
    })
}

/// Eq. 12-13: the number of terminals whose delta exceeds gamma.
pub fn delta_global(deltas: &[f64], gamma: f64) -> usize {
    deltas.iter().filter(|&&d| d > gamma).count()
}

/// What a window does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// The current global model distils into each terminal.
    DistillOnly,
    /// Generator, mutual learning, FedAvg, then distillation from the new global model.
    CoEvolve,
}

/// `delta_global < epsilon`: distillation only; otherwise co-evolution.
pub fn decide(delta_global: usize, epsilon: usize) -> Decision {
    if delta_global < epsilon {
        Decision::DistillOnly
    } else {
        Decision::CoEvolve
    }
}

/// The statistics of the union of two sets of vectors of one layer.
pub fn merge(a: &FeatureStats, b: &FeatureStats) -> Result<FeatureStats> {
    if a.layer != b.layer || a.dim != b.dim || a.classes.len() != b.classes.len() {
        return Err(EvolveError::BadInput(format!(
            "drift: cannot merge statistics of layer {} (dimension {}) with layer {} (dimension {})",
            a.layer, a.dim, b.layer, b.dim
        )));
    }
    Ok(FeatureStats {
        layer: a.layer.clone(),
        dim: a.dim,
        classes: a
            .classes
            .iter()
            .zip(&b.classes)
            .map(|(x, y)| x.union(y))
            .collect(),
    })
}
