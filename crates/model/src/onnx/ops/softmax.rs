//! `Softmax` becomes a `softmax` layer along the [C, H, W] axis holding ONNX `axis` (default
//! -1, opset 13 meaning: one axis). Refused: the batch axis, an axis merged past the fourth.

use super::OnnxOp;
use crate::onnx::context::{frame_axis, Ctx, Node};
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
        let axis = frame_axis(&dims, node.int("axis", -1)?).map_err(|m| node.err(m))?;
        cx.push(node, Op::Softmax { axis }, vec![x])?;
        Ok(())
    }
}
