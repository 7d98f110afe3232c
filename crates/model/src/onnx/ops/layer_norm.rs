//! `LayerNormalization` becomes a `layernorm` layer over the last axis, its `Scale` and
//! optional `B` (constants of that axis's size) as `weight` and `bias`. Honoured: `epsilon`,
//! `axis` naming the last axis (flat features and a last axis merged in the frame laid out as
//! rows first). Refused: normalisation over several axes, read mean/inverse-deviation outputs.

use super::OnnxOp;
use crate::onnx::context::{arr, frame, frame_axis, Ctx, Node};
use crate::onnx::OnnxError;
use crate::Op;

pub struct LayerNorm;

impl OnnxOp for LayerNorm {
    fn op_types(&self) -> &'static [&'static str] {
        &["LayerNormalization"]
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        cx.extra_outputs_unused(node, 1)?;
        let x = cx.data(node, 0)?;
        let dims = cx.dims_of(&x);
        let axis = node.int("axis", -1)?;
        let rank = dims.len() as i64;
        let last = axis == -1 || axis == rank - 1;
        let d = dims.last().copied().unwrap_or(1);
        if !last {
            return Err(node.err(format!(
                "axis {axis} of shape {dims:?}: only the last axis is supported"
            )));
        }
        // Flat features ([1, F], held as [F, 1, 1]) and a last axis merged with others in the
        // frame are laid out as rows first.
        let x = if frame_axis(&dims, -1) == Ok(2) && frame(&dims)[2] == d {
            x
        } else {
            let rows = [1, dims.iter().product::<usize>() / d.max(1), d];
            cx.laid_out(node, x, rows)?
        };
        let vec_of = |k: usize, what: &str| -> Result<Vec<f32>, OnnxError> {
            let t = cx.konst(node, k, what)?;
            if t.f.len() != d {
                return Err(node.err(format!(
                    "{what} has shape {:?}; the normalised axis has {d} values",
                    t.dims
                )));
            }
            Ok(t.f.clone())
        };
        let scale = vec_of(1, "Scale")?;
        let bias = match node.has_input(2) {
            true => vec_of(2, "bias B")?,
            false => vec![0.0; d],
        };
        let eps = node.float("epsilon")?.unwrap_or(1e-5);
        // The layer itself, not the `reshape` that may follow it.
        let j = cx.layers.len();
        cx.push_dims(node, Op::LayerNorm { eps }, vec![x], dims)?;
        cx.set_weight(j, "weight", arr(&[d], scale));
        cx.set_weight(j, "bias", arr(&[d], bias));
        Ok(())
    }
}
