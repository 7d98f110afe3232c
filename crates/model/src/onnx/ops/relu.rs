//! `Relu` becomes a `relu` layer; it has no attributes.

use super::OnnxOp;
use crate::onnx::context::{Ctx, Node};
use crate::onnx::OnnxError;
use crate::Op;

pub struct Relu;

impl OnnxOp for Relu {
    fn op_types(&self) -> &'static [&'static str] {
        &["Relu"]
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let x = cx.data(node, 0)?;
        cx.push(node, Op::Relu, vec![x])?;
        Ok(())
    }
}
