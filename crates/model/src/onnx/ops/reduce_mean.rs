//! `ReduceMean` becomes a `reducemean` layer. Honoured: `axes` as attribute (opset < 18) or
//! constant input (opset 18), negative axes, `keepdims` (a dropped axis changes only the
//! layout). Refused: no axes (a mean over everything), computed axes.

use super::OnnxOp;
use crate::onnx::context::{frame_axis, onnx_axis, Ctx, Node};
use crate::onnx::OnnxError;
use crate::Op;

pub struct ReduceMean;

impl OnnxOp for ReduceMean {
    fn op_types(&self) -> &'static [&'static str] {
        &["ReduceMean"]
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let x = cx.data(node, 0)?;
        let dims = cx.dims_of(&x);
        let list = if node.has_input(1) {
            cx.konst(node, 1, "axes")?.ints.clone().unwrap_or_default()
        } else {
            node.ints("axes")?.unwrap_or_default()
        };
        if list.is_empty() {
            return Err(node.err(
                "no axes: a mean over every axis including the batch is not supported".into(),
            ));
        }
        let mut axes = [false; 3];
        let mut onnx_axes = Vec::new();
        for &a in &list {
            let i = onnx_axis(&dims, a).map_err(|m| node.err(m))?;
            // A mean over an axis of size 1 (the batch among them) changes nothing.
            if dims[i] != 1 {
                axes[frame_axis(&dims, a).map_err(|m| node.err(m))?] = true;
            }
            onnx_axes.push(i);
        }
        let keep = node.int("keepdims", 1)? != 0;
        let out: Vec<usize> = dims
            .iter()
            .enumerate()
            .filter_map(|(d, &n)| match onnx_axes.contains(&d) {
                false => Some(n),
                true if keep => Some(1),
                true => None,
            })
            .collect();
        cx.push_dims(node, Op::ReduceMean { axes }, vec![x], out)?;
        Ok(())
    }
}
