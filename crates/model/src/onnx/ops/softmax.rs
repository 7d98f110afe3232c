//! `Softmax` becomes a `softmax` layer along the [C, H, W] axis holding ONNX `axis` (default
//! -1, opset 13 meaning: one axis); an axis the frame holds merged with others gets a `reshape`
//! around it first. Refused: the batch axis; before opset 13 (axes from `axis` on flattened
//! together, default 1), any axis but the last.

use super::OnnxOp;
use crate::onnx::context::{around, frame_axis, onnx_axis, per_frame, Ctx, Node};
use crate::onnx::OnnxError;
use crate::Op;

pub struct Softmax;

impl OnnxOp for Softmax {
    fn op_types(&self) -> &'static [&'static str] {
        &["Softmax"]
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let x = cx.data(node, 0)?;
        let dims = cx.dims_of(&x);
        // Before opset 13 Softmax flattens the axes from `axis` (default 1) on into one and
        // normalises over all of them; that is opset 13's meaning only for the last axis.
        let old = cx.opset < 13;
        let axis = node.int("axis", if old { 1 } else { -1 })?;
        let a = onnx_axis(&dims, axis).map_err(|m| node.err(m))?;
        if old && a + 1 != dims.len() {
            return Err(node.err(format!(
                "opset {}: axis {axis} of a tensor of shape {dims:?} normalises over every axis \
                 from {a} on together; only the last axis is supported (export with opset 13 or \
                 later for one axis)",
                cx.opset
            )));
        }
        match frame_axis(&dims, axis) {
            Ok(fa) => {
                cx.push(node, Op::Softmax { axis: fa }, vec![x])?;
            }
            Err(m) if a < per_frame(&dims).1 => return Err(node.err(m)),
            Err(_) => {
                // The axis is merged with others in the frame (a rank-4 product of windows and
                // heads): the axes before it and after it grouped around it, then laid out
                // again under the ONNX dims.
                let g = cx.laid_out(node, x, around(&dims, a))?;
                cx.push_dims(node, Op::Softmax { axis: 1 }, vec![g], dims)?;
            }
        }
        Ok(())
    }
}
