//! Network descriptions (TOML in `models/`): one file describes one network for both the
//! crossbar mapper (`ppa`) and the trainer, so the two never disagree about shapes.
//!
//! Format: top-level `name`, `input = [C, H, W]`, optional `outputs = [names]`, then
//! `[[layers]]` tables with `name`, `op` and the op's fields; see `models/resnet18.toml`.

mod desc;
mod error;
pub mod onnx;
mod parse;
mod shape;
mod tensors;
mod walk;
mod write;

pub use desc::{Act, LayerDesc, ModelDesc, Op, Src};
pub use error::ModelError;
pub use parse::{load_model, parse_model};
pub use shape::LayerMatrix;
pub use tensors::{abs_max_bits, Tensors};
pub use walk::Step;
