//! `Identity` and `Dropout` (an identity at inference) become no layer: their output is bound
//! to their input. Refused: a Dropout whose mask output is read.

use super::OnnxOp;
use crate::onnx::context::{Ctx, Node};
use crate::onnx::OnnxError;

pub struct Identity;

impl OnnxOp for Identity {
    fn op_types(&self) -> &'static [&'static str] {
        &["Identity", "Dropout"]
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        cx.extra_outputs_unused(node, 1)?;
        let v = cx.lookup(node, 0)?.clone();
        cx.bind(node, v);
        Ok(())
    }
}
