//! `Concat` of computed tensors becomes a `concat` layer. Honoured: `axis` 1, or its negative
//! form (channels). Refused: concatenation along any other axis, constant operands.

use super::OnnxOp;
use crate::onnx::context::{Ctx, Node};
use crate::onnx::OnnxError;
use crate::Op;

pub struct Concat;

impl OnnxOp for Concat {
    fn op_types(&self) -> &'static [&'static str] {
        &["Concat"]
    }

    fn listed(&self) -> String {
        "Concat (channels)".into()
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let xs = (0..node.proto.input.len())
            .map(|k| cx.data(node, k))
            .collect::<Result<Vec<_>, _>>()?;
        let Some(first) = xs.first() else {
            return Err(node.err("no inputs: Concat needs at least one".to_string()));
        };
        let rank = cx.rank_of(first) as i64;
        let axis = node.int("axis", i64::MIN)?;
        let norm = if axis < 0 { axis + rank } else { axis };
        if norm != 1 {
            return Err(node.err(format!(
                "axis {axis}: only concatenation along channels (axis 1) is supported"
            )));
        }
        cx.push(node, Op::Concat, xs)?;
        Ok(())
    }
}
