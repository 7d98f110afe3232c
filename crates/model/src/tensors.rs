//! A checkpoint's tensors read without LibTorch: the trainer saves a `VarStore` as safetensors
//! (`layer.weight`, `layer_bn.running_mean`, ...), which this reads as named f32 arrays.

use super::ModelError;
use ndarray::{ArrayD, IxDyn};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Named f32 tensors and the file they came from (for error messages).
#[derive(Debug, Clone, Default)]
pub struct Tensors {
    pub source: PathBuf,
    pub map: BTreeMap<String, ArrayD<f32>>,
}

impl Tensors {
    /// Reads every tensor of a safetensors file; any dtype but F32 is refused by name.
    pub fn read(path: &Path) -> Result<Self, ModelError> {
        let file = format!("checkpoint {}", path.display());
        let err = |field: &str, msg: String| ModelError::new(&file, "", field, msg);
        let bytes = std::fs::read(path).map_err(|e| err("", format!("cannot read: {e}")))?;
        let st = SafeTensors::deserialize(&bytes)
            .map_err(|e| err("", format!("not a safetensors file ({e:?})")))?;
        let mut map = BTreeMap::new();
        for (name, view) in st.tensors() {
            if view.dtype() != Dtype::F32 {
                return Err(err(
                    "",
                    format!("tensor `{name}` is {:?}; allowed: F32", view.dtype()),
                ));
            }
            let vals: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            let a = ArrayD::from_shape_vec(IxDyn(view.shape()), vals).map_err(|_| {
                err(
                    "",
                    format!("tensor `{name}`: data size does not match its shape"),
                )
            })?;
            map.insert(name, a);
        }
        Ok(Tensors {
            source: path.to_path_buf(),
            map,
        })
    }

    /// Writes the tensors as a safetensors file (F32, little-endian), as the trainer does.
    pub fn write(&self, path: &Path) -> Result<(), ModelError> {
        let err = |msg: String| ModelError::new(path.display().to_string(), "", "", msg);
        let bufs: Vec<(String, Vec<usize>, Vec<u8>)> = self
            .map
            .iter()
            .map(|(n, a)| {
                let bytes = a.iter().flat_map(|v| v.to_le_bytes()).collect();
                (n.clone(), a.shape().to_vec(), bytes)
            })
            .collect();
        let views = bufs
            .iter()
            .map(|(n, s, b)| Ok((n.as_str(), TensorView::new(Dtype::F32, s.clone(), b)?)))
            .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()
            .map_err(|e| err(format!("{e:?}")))?;
        let bytes = safetensors::serialize(views, &None).map_err(|e| err(format!("{e:?}")))?;
        nestevo_core::error::write_atomic(path, &bytes).map_err(|e| err(e.to_string()))
    }

    /// The tensor `name`, which must have exactly `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<&ArrayD<f32>, ModelError> {
        let file = format!("checkpoint {}", self.source.display());
        let err = |msg: String| ModelError::new(&file, "", "", msg);
        let Some(a) = self.map.get(name) else {
            return Err(err(format!(
                "tensor `{name}` is missing (expected shape {shape:?})"
            )));
        };
        if a.shape() != shape {
            return Err(err(format!(
                "tensor `{name}` has shape {:?}, expected {shape:?}",
                a.shape()
            )));
        }
        let bits = match a.as_slice_memory_order() {
            Some(s) => abs_max_bits(s),
            None => a.iter().fold(0, |m, &v| m.max(abs_bits(v))),
        };
        if bits >= f32::INFINITY.to_bits() {
            return Err(err(format!("tensor `{name}` holds a non-finite value")));
        }
        Ok(a)
    }

    pub fn insert(&mut self, name: &str, a: ArrayD<f32>) {
        self.map.insert(name.to_string(), a);
    }
}

/// The bits of |v|. Non-negative floats order as their bits do, and infinity's bits are the
/// smallest of any non-finite value's.
fn abs_bits(v: f32) -> u32 {
    v.to_bits() & 0x7fff_ffff
}

/// The bits of the largest |v| of `w`: `f32::from_bits` of it is the max-abs of finite values,
/// and it is at least `f32::INFINITY.to_bits()` when some v is infinite or NaN. An integer
/// maximum over blocks of the threads, which vectorises (a float maximum must order NaNs, a
/// short-circuiting test stops per value, and neither does; 25 M weights in ResNet-50).
pub fn abs_max_bits(w: &[f32]) -> u32 {
    use rayon::prelude::*;
    w.par_chunks(1 << 16)
        .map(|c| c.iter().fold(0, |m, &v| m.max(abs_bits(v))))
        .max()
        .unwrap_or(0)
}
