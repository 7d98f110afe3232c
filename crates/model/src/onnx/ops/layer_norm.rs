//! `LayerNormalization` becomes a `layernorm` layer over the last axis, its `Scale` and
//! optional `B` (constants of that axis's size) as `weight` and `bias`. Honoured: `epsilon`,
//! `axis` naming the last axis. Refused: normalisation over several axes, a tensor whose last
//! axis is not held on its own (flat features, rank > 4), read mean/inverse-deviation outputs.

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
        if !last || frame_axis(&dims, -1) != Ok(2) || frame(&dims)[2] != d {
            return Err(node.err(format!(
                "axis {axis} of shape {dims:?}: only the last axis, held on its own (tokens \
                 or rows, not flat features), is supported"
            )));
        }
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
        let j = cx.push(node, Op::LayerNorm { eps }, vec![x])?;
        cx.set_weight(j, "weight", arr(&[d], scale));
        cx.set_weight(j, "bias", arr(&[d], bias));
        Ok(())
    }
}
