//! ONNX import: an ONNX graph (protobuf, read with the `onnx-protobuf` crate's generated
//! types) becomes a model description (`ModelDesc`) and its weights, named as the crossbar
//! runner reads them (`LAYER.weight`, `LAYER.bias`, `LAYER.running_mean`, ...).
//!
//! Node by node, in the graph's (topological) order, each ONNX value is bound to the network
//! input, a layer of the description or a constant. Every shape is read for one frame (the
//! graph at batch 1), and each value's ONNX dims are kept beside the [C, H, W] its layer holds
//! (`context::frame`). Conv, Gemm/MatMul (constant weights) and BatchNormalization become
//! `conv`, `linear`/`dense` and `bn` layers with their tensors; an Add of a constant right
//! after a MatMul/Conv that nothing else reads becomes that layer's bias. Identity and Dropout
//! bind their output to their input. Shape arithmetic on constants (and `Shape` of a computed
//! tensor, whose shape is fixed) is folded at import (`fold`). The rest map one to one, or to
//! a few layers (a `pad` before a windowed op with unequal sides, a `reshape` where the ONNX
//! rank changes); anything the description cannot express exactly (a Resize that is not an
//! integer nearest-neighbour upsampling, a Transpose of more than three moving groups of axes,
//! ...) is refused with the node's name, op and the offending attribute. BatchNormalization's
//! epsilon is absorbed into the running variance (var + eps - 1e-5), as the runner's epsilon
//! is 1e-5.
//!
//! `convert` walks the graph; each op's mapping is a file of `ops/`, found through the registry
//! there; `context` holds what they share (the bindings, layers, weights and node errors).

mod context;
mod convert;
mod external;
mod fold;
mod ops;
mod proto;

use super::{load_model, parse_model, ModelDesc, ModelError, Tensors};
use ndarray::ArrayD;
use nestevo_core::error::{write_atomic, ErrorKind, Kinded};
use onnx_protobuf::{Message, ModelProto};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The ONNX ops the importer maps, as listed in the "unsupported op" error (from the registry
/// of `ops/`).
pub use ops::supported_ops;

/// A bad or unsupported ONNX file. Every variant names the file; node errors name the node,
/// its op type and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: not a complete ONNX model ({bytes} bytes; truncated or not ONNX): {detail}")]
    Decode {
        file: String,
        bytes: usize,
        detail: String,
    },
    #[error(
        "{file}: node `{node}`: op `{op}` is not supported; supported: {}",
        supported_ops()
    )]
    Unsupported {
        file: String,
        node: String,
        op: String,
    },
    #[error("{file}: node `{node}` ({op}): {message}")]
    Node {
        file: String,
        node: String,
        op: String,
        message: String,
    },
    #[error("{file}: {message}")]
    Graph { file: String, message: String },
    /// The description the graph became does not check (names the layer = the node).
    #[error("{0}")]
    Model(#[from] ModelError),
    #[error("{file}: cannot write: {message}")]
    Write { file: String, message: String },
}

impl Kinded for OnnxError {
    /// A file that is missing, cut short or holds what the importer cannot map is the
    /// caller's to correct; failing to write the result is a fault.
    fn kind(&self) -> ErrorKind {
        match self {
            OnnxError::Write { .. } => ErrorKind::Fault,
            _ => ErrorKind::BadInput,
        }
    }
}

impl From<OnnxError> for ModelError {
    /// For `load_model`, which reports every description problem as a `ModelError`.
    fn from(e: OnnxError) -> Self {
        match e {
            OnnxError::Model(m) => m,
            OnnxError::Unsupported { file, node, op } => ModelError::new(
                file,
                node,
                "op_type",
                format!("op `{op}` is not supported; supported: {}", supported_ops()),
            ),
            OnnxError::Node {
                file,
                node,
                op,
                message,
            } => ModelError::new(file, node, "", format!("({op}) {message}")),
            other => ModelError::new("", "", "", other.to_string()),
        }
    }
}

/// An imported network: its description and its f32 weights by tensor name.
#[derive(Debug, Clone)]
pub struct Imported {
    pub desc: ModelDesc,
    pub weights: BTreeMap<String, ArrayD<f32>>,
}

/// Reads and converts an ONNX file.
pub fn import_onnx(path: &Path) -> Result<Imported, OnnxError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| OnnxError::Read {
        file: file.clone(),
        source,
    })?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "onnx".into());
    // `model.onnx` has the empty path as its parent, which names no folder to resolve.
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    import_model(&bytes, &file, &stem, Some(dir))
}

/// Converts ONNX bytes; `file` names them in errors, `stem` (the file's stem) names the network.
/// Tensors kept in external data files are refused (no folder to read them from).
pub fn import_onnx_bytes(bytes: &[u8], file: &str, stem: &str) -> Result<Imported, OnnxError> {
    import_model(bytes, file, stem, None)
}

/// Converts ONNX bytes, reading external data from `dir` where given.
fn import_model(
    bytes: &[u8],
    file: &str,
    stem: &str,
    dir: Option<&Path>,
) -> Result<Imported, OnnxError> {
    let decode = |detail: String| OnnxError::Decode {
        file: file.to_string(),
        bytes: bytes.len(),
        detail,
    };
    let mut model = ModelProto::parse_from_bytes(bytes).map_err(|e| decode(e.to_string()))?;
    if let Some(dir) = dir {
        external::load(&mut model, dir).map_err(|message| OnnxError::Graph {
            file: file.to_string(),
            message,
        })?;
    }
    // A file cut between top-level fields still parses; a real model names its opset and
    // holds a graph with nodes and outputs.
    if model.opset_import.is_empty() {
        return Err(decode("it names no opset (opset_import is empty)".into()));
    }
    let Some(graph) = model.graph.as_ref() else {
        return Err(decode("it holds no graph".into()));
    };
    if graph.node.is_empty() || graph.output.is_empty() {
        return Err(decode("its graph has no nodes or no outputs".into()));
    }
    // The file's name is the user's; exporters name graphs generically (`main_graph`).
    let name = if stem.is_empty() { &graph.name } else { stem };
    // The default domain's opset ("" or "ai.onnx").
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map_or(17, |o| o.version);
    let (desc, weights) = convert::convert(graph, opset, file, &context::sanitize(name))?;
    // Through the TOML reader: what is imported is exactly what a description file loads as.
    let desc = parse_model(&desc.to_toml(), file)?;
    Ok(Imported { desc, weights })
}

impl Imported {
    /// The weights as the runner reads them.
    pub fn tensors(&self) -> Tensors {
        Tensors {
            source: PathBuf::from(&self.desc.source),
            map: self.weights.clone(),
        }
    }

    /// Writes `DIR/NAME.toml` and `DIR/NAME.safetensors` (NAME: the description's name),
    /// each atomically; returns their paths.
    pub fn write(&self, dir: &Path) -> Result<(PathBuf, PathBuf), OnnxError> {
        let werr = |p: &Path, m: String| OnnxError::Write {
            file: p.display().to_string(),
            message: m,
        };
        std::fs::create_dir_all(dir).map_err(|e| werr(dir, e.to_string()))?;
        let toml_path = dir.join(format!("{}.toml", self.desc.name));
        let st_path = dir.join(format!("{}.safetensors", self.desc.name));
        let header = format!(
            "# Imported from {} by `nestevo model import`.\n",
            self.desc.source
        );
        write_atomic(&toml_path, (header + &self.desc.to_toml()).as_bytes())
            .map_err(|e| werr(&toml_path, e.to_string()))?;
        self.tensors()
            .write(&st_path)
            .map_err(|e| werr(&st_path, e.to_string()))?;
        Ok((toml_path, st_path))
    }
}

/// A network and its weights: an `.onnx` file (weights inside), or a description with a
/// safetensors file of the runner's tensor names.
pub fn load_network(
    model: &Path,
    weights: Option<&Path>,
) -> Result<(ModelDesc, Tensors), ModelError> {
    let shown = model.display().to_string();
    if is_onnx(model) {
        if weights.is_some() {
            return Err(ModelError::new(
                shown,
                "",
                "",
                "an ONNX file carries its weights; give no separate weights file",
            ));
        }
        let imp = import_onnx(model)?;
        let t = Tensors {
            source: PathBuf::from(&imp.desc.source),
            map: imp.weights,
        };
        return Ok((imp.desc, t));
    }
    let Some(w) = weights else {
        return Err(ModelError::new(
            shown,
            "",
            "",
            "a description needs its weights (a .safetensors checkpoint)",
        ));
    };
    Ok((load_model(model)?, Tensors::read(w)?))
}

/// Whether a `--model` path names an ONNX file (by its extension).
pub fn is_onnx(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
}
