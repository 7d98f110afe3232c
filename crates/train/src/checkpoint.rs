//! Checkpoints: `NAME.safetensors` (weights and batch-norm statistics), `NAME.toml` (the model
//! description, so the file alone rebuilds the network) and `NAME.state.json` (where training
//! stood, for resuming).

use super::detector::Detector;
use super::error::{Result, TrainError};
use nestevo_core::error::{write_atomic, Context, IoError};
use nestevo_core::{check, invalid};
use nestevo_model::{load_model, Tensors};
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

/// Writes the three files, each atomically (a crash never leaves a torn checkpoint).
pub fn save(model: &Detector, dir: &Path, state: &TrainState) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| IoError::new(dir, "create folder", e))?;
    let (w, d, s) = paths(dir, &model.desc.name);
    let tmp = w.with_file_name(format!(
        ".tmp-{}-{}.safetensors",
        std::process::id(),
        model.desc.name
    ));
    model
        .vs
        .save(&tmp)
        .map_err(TrainError::from)
        .ctx(|| format!("writing {}", w.display()))?;
    std::fs::rename(&tmp, &w).map_err(|e| IoError::new(&w, "write", e))?;
    write_atomic(&d, model.desc.to_toml().as_bytes())?;
    let json = serde_json::to_string_pretty(state).expect("a training state always serialises");
    write_atomic(&s, json.as_bytes())?;
    Ok(w)
}

/// Loads `NAME.safetensors` with the description `NAME.toml` beside it. Every tensor's name and
/// shape is checked against the network the description builds before LibTorch reads the file,
/// so a checkpoint of another model is refused by tensor name, never by a C++ exception.
pub fn load(weights: &Path, device: Device) -> Result<(Detector, Option<TrainState>)> {
    check!(
        weights.extension().is_some_and(|e| e == "safetensors"),
        "checkpoint {}: expected a NAME.safetensors file (with NAME.toml beside it)",
        weights.display()
    );
    check!(
        weights.is_file(),
        "checkpoint {}: no such file",
        weights.display()
    );
    let desc_path = weights.with_extension("toml");
    check!(
        desc_path.is_file(),
        "checkpoint {}: its model description {} is missing",
        weights.display(),
        desc_path.display()
    );
    let desc = load_model(&desc_path)?;
    let shapes = desc.shapes()?;
    let Some(hm) = desc.outputs.first().and_then(|n| desc.index_of(n)) else {
        invalid!(
            "model description {}: field `outputs` names no heat-map layer",
            desc_path.display()
        );
    };
    let mut model = Detector::new(&desc, shapes[hm][0], device)?;
    check_tensors(&model, weights, &desc_path)?;
    model.vs.load(weights).map_err(TrainError::from).ctx(|| {
        format!(
            "checkpoint {}: weights do not match the description {}",
            weights.display(),
            desc_path.display()
        )
    })?;
    let state_path = weights.with_extension("state.json");
    let state = match std::fs::read_to_string(&state_path) {
        Ok(t) => Some(serde_json::from_str(&t).map_err(|e| {
            TrainError::Invalid(format!("training state {}: {e}", state_path.display()))
        })?),
        Err(_) => None,
    };
    Ok((model, state))
}

/// Every variable of `model` is in the file with its shape, and the file holds nothing else.
fn check_tensors(model: &Detector, weights: &Path, desc_path: &Path) -> Result<()> {
    let file = Tensors::read(weights)?;
    let w = weights.display();
    let d = desc_path.display();
    for (name, var) in model.vs.variables() {
        let want: Vec<usize> = var.size().iter().map(|&v| v as usize).collect();
        match file.map.get(&name) {
            None => invalid!(
                "checkpoint {w}: tensor `{name}` is missing (the description {d} expects shape {want:?})"
            ),
            Some(a) if a.shape() != want.as_slice() => invalid!(
                "checkpoint {w}: tensor `{name}` has shape {:?}, the description {d} expects {want:?}",
                a.shape()
            ),
            Some(_) => {}
        }
    }
    let vars = model.vs.variables();
    if let Some(extra) = file.map.keys().find(|k| !vars.contains_key(*k)) {
        invalid!("checkpoint {w}: tensor `{extra}` is not a variable of the description {d}");
    }
    Ok(())
}
