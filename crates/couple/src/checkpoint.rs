//! A checkpoint as the trainer writes it: `NAME.safetensors` and its description `NAME.toml`.

use super::CoupleError;
use nestevo_model::{load_model, ModelDesc, Tensors};
use std::path::{Path, PathBuf};

/// Reads `NAME.safetensors` and its description (`model`, or `NAME.toml` beside it).
pub fn load_checkpoint(
    weights: &Path,
    model: Option<&Path>,
) -> Result<(ModelDesc, Tensors), CoupleError> {
    let w = weights.display();
    nestevo_core::check!(
        weights.extension().is_some_and(|e| e == "safetensors"),
        "checkpoint {w}: expected a NAME.safetensors file"
    );
    nestevo_core::check!(weights.is_file(), "checkpoint {w}: no such file");
    let desc_path: PathBuf =
        model.map_or_else(|| weights.with_extension("toml"), Path::to_path_buf);
    nestevo_core::check!(
        desc_path.is_file(),
        "checkpoint {w}: its model description {} is missing (give one with --model)",
        desc_path.display()
    );
    let (desc, tensors) = (load_model(&desc_path)?, Tensors::read(weights)?);
    // Tensors are named `layer.parameter`; one of no layer of this description means the
    // checkpoint belongs to another model (the trainer refuses such a file the same way).
    if let Some(extra) = tensors.map.keys().find(|n| {
        n.rsplit_once('.')
            .is_none_or(|(layer, _)| desc.index_of(layer).is_none())
    }) {
        nestevo_core::invalid!(
            "checkpoint {w}: tensor `{extra}` is not a parameter of any layer of the description \
             {} (a checkpoint of another model?)",
            desc_path.display()
        );
    }
    Ok((desc, tensors))
}
