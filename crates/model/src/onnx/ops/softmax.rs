//! `Softmax` becomes a `softmax` layer along the [C, H, W] axis holding ONNX `axis` (default
//! -1, opset 13 meaning: one axis); an axis the frame holds merged with others gets a `reshape`
//! around it first. Refused: the batch axis.

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
        let axis = node.int("axis", -1)?;
        let a = onnx_axis(&dims, axis).map_err(|m| node.err(m))?;
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
