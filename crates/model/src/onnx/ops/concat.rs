//! `Concat` becomes a `concat` layer along the [C, H, W] axis that holds ONNX `axis` (channels,
//! tokens or features); a constant operand (a class token) becomes a `const` layer. Refused:
//! the batch axis, an axis merged past the fourth, operands of different ranks.

use super::OnnxOp;
use crate::onnx::context::{frame_axis, onnx_axis, Ctx, Node, Val};
use crate::onnx::OnnxError;
use crate::Op;

pub struct Concat;

impl OnnxOp for Concat {
    fn op_types(&self) -> &'static [&'static str] {
        &["Concat"]
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let computed = (0..node.proto.input.len())
            .find(|&k| !matches!(cx.lookup(node, k), Ok(Val::Const(_))))
            .ok_or_else(|| node.err("every operand is a constant".into()))?;
        let rank = cx.dims_of(&cx.data(node, computed)?).len();
        let mut xs = Vec::new();
        for k in 0..node.proto.input.len() {
            xs.push(match cx.lookup(node, k)? {
                Val::Const(_) => cx.const_layer(node, k, rank)?,
                _ => cx.data(node, k)?,
            });
        }
        let Some(first) = xs.first() else {
            return Err(node.err("no inputs: Concat needs at least one".to_string()));
        };
        let dims = cx.dims_of(first);
        let axis = node.int("axis", i64::MIN)?;
        let fa = frame_axis(&dims, axis).map_err(|m| node.err(m))?;
        let d = onnx_axis(&dims, axis).map_err(|m| node.err(m))?;
        let mut out = dims.clone();
        for x in &xs[1..] {
            let dx = cx.dims_of(x);
            if dx.len() != dims.len() {
                return Err(node.err(format!(
                    "operands of shapes {dims:?} and {dx:?}: one rank is needed"
                )));
            }
            out[d] += dx[d];
        }
        let op = match fa {
            0 => Op::Concat,
            axis => Op::ConcatAxis { axis },
        };
        cx.push_dims(node, op, xs, out)?;
        Ok(())
    }
}
