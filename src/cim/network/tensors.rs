//! A checkpoint's tensors read without LibTorch: the trainer saves a `VarStore` as safetensors
//! (`layer.weight`, `layer_bn.running_mean`, ...), which this reads as named f32 arrays.

use anyhow::{bail, Context, Result};
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
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("checkpoint {}: cannot read", path.display()))?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| {
            anyhow::anyhow!(
                "checkpoint {}: not a safetensors file ({e:?})",
                path.display()
            )
        })?;
        let mut map = BTreeMap::new();
        for (name, view) in st.tensors() {
            if view.dtype() != Dtype::F32 {
                bail!(
                    "checkpoint {}: tensor `{name}` is {:?}; allowed: F32",
                    path.display(),
                    view.dtype()
                );
            }
            let vals: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            let a = ArrayD::from_shape_vec(IxDyn(view.shape()), vals).with_context(|| {
                format!(
                    "checkpoint {}: tensor `{name}`: data size does not match its shape",
                    path.display()
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
    pub fn write(&self, path: &Path) -> Result<()> {
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
            .map_err(|e| anyhow::anyhow!("{}: {e:?}", path.display()))?;
        safetensors::serialize_to_file(views, &None, path)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e:?}", path.display()))
    }

    /// The tensor `name`, which must have exactly `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<&ArrayD<f32>> {
        let Some(a) = self.map.get(name) else {
            bail!(
                "checkpoint {}: tensor `{name}` is missing (expected shape {shape:?})",
                self.source.display()
            );
        };
        if a.shape() != shape {
            bail!(
                "checkpoint {}: tensor `{name}` has shape {:?}, expected {shape:?}",
                self.source.display(),
                a.shape()
            );
        }
        if a.iter().any(|v| !v.is_finite()) {
            bail!(
                "checkpoint {}: tensor `{name}` holds a non-finite value",
                self.source.display()
            );
        }
        Ok(a)
    }

    pub fn insert(&mut self, name: &str, a: ArrayD<f32>) {
        self.map.insert(name.to_string(), a);
    }
}
