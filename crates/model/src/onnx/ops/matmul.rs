//! `MatMul` of a computed tensor by a constant 2-D matrix becomes a bias-free `linear` layer
//! (an Add of a constant right after it becomes its bias; see `add.rs`). Refused: a computed
//! second operand, a weight that is not 2-D.

use super::gemm::linear;
use super::OnnxOp;
use crate::onnx::context::{Ctx, Node};
use crate::onnx::OnnxError;

pub struct MatMul;

impl OnnxOp for MatMul {
    fn op_types(&self) -> &'static [&'static str] {
        &["MatMul"]
    }

    fn listed(&self) -> String {
        "MatMul (constant weights)".into()
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let b = cx.konst(node, 1, "weight (second operand)")?.clone();
        linear(cx, node, &b, false, 1.0, None, 1.0)
    }
}
