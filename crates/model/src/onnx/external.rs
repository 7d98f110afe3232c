//! ONNX external data: a model over protobuf's 2 GB limit keeps its tensors' bytes in files
//! beside the `.onnx` file (torch.onnx.export writes one per tensor, or one file for all with
//! `location`, `offset`, `length` per tensor). They are read into the tensors' `raw_data`
//! before conversion, so the converter sees one kind of tensor. A location must be a relative
//! path inside the model's folder, as onnxruntime requires.

use onnx_protobuf::tensor_proto::DataLocation;
use onnx_protobuf::{ModelProto, TensorProto};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path};

/// Whether the tensor keeps its bytes in an external file.
pub fn is_external(t: &TensorProto) -> bool {
    t.data_location.enum_value() == Ok(DataLocation::EXTERNAL) || !t.external_data.is_empty()
}

/// Reads every external tensor of the graph's initializers and Constant nodes from `dir`
/// into its `raw_data`; the error names the tensor, the file and what is wrong.
pub fn load(model: &mut ModelProto, dir: &Path) -> Result<(), String> {
    let Some(g) = model.graph.as_mut() else {
        return Ok(());
    };
    for t in g.initializer.iter_mut() {
        if is_external(t) {
            load_one(t, dir)?;
        }
    }
    for n in g.node.iter_mut() {
        for a in n.attribute.iter_mut() {
            if let Some(t) = a.t.as_mut() {
                if is_external(t) {
                    load_one(t, dir)?;
                }
            }
        }
    }
    Ok(())
}

fn load_one(t: &mut TensorProto, dir: &Path) -> Result<(), String> {
    let name = t.name.clone();
    let entry = |key: &str| {
        t.external_data
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.clone())
    };
    let location = entry("location")
        .ok_or_else(|| format!("tensor `{name}`: external data without a `location`"))?;
    let number = |key: &str| -> Result<Option<u64>, String> {
        entry(key)
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    format!("tensor `{name}`: external `{key}` is `{v}`, not a byte count")
                })
            })
            .transpose()
    };
    let (offset, length) = (number("offset")?.unwrap_or(0), number("length")?);
    let rel = Path::new(&location);
    if rel.is_absolute()
        || rel
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!(
            "tensor `{name}`: external location `{location}`: must be a relative path inside \
             the model's folder"
        ));
    }
    let path = dir.join(rel);
    let shown = path.display();
    // The text of the location stays inside the folder; a symlink could still lead out of
    // it, so the resolved path must too. A FIFO or a device would block or never end: only a
    // regular file is read.
    let inside = match (std::fs::canonicalize(dir), std::fs::canonicalize(&path)) {
        (Ok(d), Ok(p)) => p.starts_with(d),
        (_, Err(e)) => {
            return Err(format!(
                "tensor `{name}`: cannot open external data {shown}: {e}"
            ))
        }
        (Err(e), _) => {
            return Err(format!(
                "tensor `{name}`: the model's folder {}: {e}",
                dir.display()
            ))
        }
    };
    if !inside {
        return Err(format!(
            "tensor `{name}`: external location `{location}` leads out of the model's folder \
             (through a symbolic link); it must stay inside it"
        ));
    }
    let meta = std::fs::metadata(&path).map_err(|e| format!("tensor `{name}`: {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!(
            "tensor `{name}`: external data {shown} is not a regular file"
        ));
    }
    let size = meta.len();
    let mut f = File::open(&path)
        .map_err(|e| format!("tensor `{name}`: cannot open external data {shown}: {e}"))?;
    let length = length.unwrap_or(size.saturating_sub(offset));
    if offset.checked_add(length).is_none_or(|end| end > size) {
        return Err(format!(
            "tensor `{name}`: external data {shown} holds {size} bytes; offset {offset} + \
             length {length} is past its end"
        ));
    }
    let mut raw = vec![0u8; length as usize];
    f.seek(SeekFrom::Start(offset))
        .and_then(|_| f.read_exact(&mut raw))
        .map_err(|e| format!("tensor `{name}`: reading {shown}: {e}"))?;
    t.raw_data = raw;
    t.external_data.clear();
    t.data_location = DataLocation::DEFAULT.into();
    Ok(())
}
