//! `Flatten` becomes a `flatten` layer ([batch, features] from [batch, C, H, W]). Honoured:
//! `axis` = 1 (the default). Refused: any other axis.

use super::OnnxOp;
use crate::onnx::context::{frame, Ctx, Node};
use crate::onnx::OnnxError;
use crate::Op;

pub struct Flatten;

impl OnnxOp for Flatten {
    fn op_types(&self) -> &'static [&'static str] {
        &["Flatten"]
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let axis = node.int("axis", 1)?;
        if axis != 1 {
            return Err(node.err(format!("axis {axis}: only Flatten(axis = 1) is supported")));
        }
        let x = cx.data(node, 0)?;
        let dims = cx.dims_of(&x);
        if dims.first() != Some(&1) {
            // The batch is no longer first: [d0, rest] is a reshape of one frame.
            let out = vec![dims[0], dims[1..].iter().product()];
            cx.push_dims(node, Op::Reshape { shape: frame(&out) }, vec![x], out)?;
            return Ok(());
        }
        cx.push(node, Op::Flatten, vec![x])?;
        Ok(())
    }
}
