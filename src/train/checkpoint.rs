//! Checkpoints: `NAME.safetensors` (weights and batch-norm statistics), `NAME.toml` (the model
//! description, so the file alone rebuilds the network) and `NAME.state.json` (where training
//! stood, for resuming).

use super::detector::Detector;
use crate::model::load_model;
use anyhow::{ensure, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tch::Device;

/// Training state beside the weights.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TrainState {
    pub model: String,
    /// Steps done.
    pub step: usize,
    /// Steps the run was asked for.
    pub total_steps: usize,
    pub seed: u64,
    pub last_loss: f64,
    pub seconds: f64,
}

/// `dir/NAME.safetensors`, `dir/NAME.toml`, `dir/NAME.state.json`.
pub fn paths(dir: &Path, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    (
        dir.join(format!("{name}.safetensors")),
        dir.join(format!("{name}.toml")),
        dir.join(format!("{name}.state.json")),
    )
}

pub fn save(model: &Detector, dir: &Path, state: &TrainState) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating checkpoint folder {}", dir.display()))?;
    let (w, d, s) = paths(dir, &model.desc.name);
    // Write to temporary names first so an interrupted save never leaves a torn checkpoint.
    let tmp = |p: &Path| {
        p.with_file_name(format!(
            ".tmp-{}",
            p.file_name().expect("file").to_string_lossy()
        ))
    };
    model
        .vs
        .save(tmp(&w))
        .with_context(|| format!("writing {}", w.display()))?;
    std::fs::write(tmp(&d), model.desc.to_toml())
        .with_context(|| format!("writing {}", d.display()))?;
    std::fs::write(tmp(&s), serde_json::to_string_pretty(state)?)
        .with_context(|| format!("writing {}", s.display()))?;
    for p in [&w, &d, &s] {
        std::fs::rename(tmp(p), p).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(w)
}

/// Loads `NAME.safetensors` with the description `NAME.toml` beside it.
pub fn load(weights: &Path, device: Device) -> Result<(Detector, Option<TrainState>)> {
    ensure!(
        weights.extension().is_some_and(|e| e == "safetensors"),
        "checkpoint {}: expected a NAME.safetensors file (with NAME.toml beside it)",
        weights.display()
    );
    ensure!(
        weights.is_file(),
        "checkpoint {}: no such file",
        weights.display()
    );
    let desc_path = weights.with_extension("toml");
    ensure!(
        desc_path.is_file(),
        "checkpoint {}: its model description {} is missing",
        weights.display(),
        desc_path.display()
    );
    let desc = load_model(&desc_path)?;
    let shapes = desc.shapes()?;
    let hm = desc
        .outputs
        .first()
        .and_then(|n| desc.index_of(n))
        .with_context(|| {
            format!(
                "model description {}: field `outputs` names no heat-map layer",
                desc_path.display()
            )
        })?;
    let mut model = Detector::new(&desc, shapes[hm][0], device)?;
    model.vs.load(weights).with_context(|| {
        format!(
            "checkpoint {}: weights do not match the description {}",
            weights.display(),
            desc_path.display()
        )
    })?;
    let state_path = weights.with_extension("state.json");
    let state = match std::fs::read_to_string(&state_path) {
        Ok(t) => Some(
            serde_json::from_str(&t)
                .with_context(|| format!("training state {}", state_path.display()))?,
        ),
        Err(_) => None,
    };
    Ok((model, state))
}
