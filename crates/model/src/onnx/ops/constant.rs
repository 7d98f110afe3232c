//! `Constant` becomes no layer: its output is bound to the constant, for the nodes that read
//! weights, biases, shapes or scales. Honoured: `value` (a tensor), `value_float(s)`,
//! `value_int(s)`. Refused: a Constant without one of those (sparse and string values).

use super::OnnxOp;
use crate::onnx::context::{Ctx, Node, Val};
use crate::onnx::proto::{read_tensor, Const};
use crate::onnx::OnnxError;

pub struct Constant;

impl OnnxOp for Constant {
    fn op_types(&self) -> &'static [&'static str] {
        &["Constant"]
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let c = if let Some(t) = node.tensor("value")? {
            read_tensor(t).map_err(|m| node.err(m))?
        } else if let Some(v) = node.float("value_float")? {
            Const {
                dims: vec![],
                f: vec![v],
                ints: None,
            }
        } else if let Some(v) = node.floats("value_floats")? {
            Const {
                dims: vec![v.len()],
                f: v,
                ints: None,
            }
        } else if let Some(v) = node.ints("value_ints")? {
            Const {
                dims: vec![v.len()],
                f: v.iter().map(|&x| x as f32).collect(),
                ints: Some(v),
            }
        } else if let Some(v) = node.proto.attribute.iter().find(|x| x.name == "value_int") {
            Const {
                dims: vec![],
                f: vec![v.i as f32],
                ints: Some(vec![v.i]),
            }
        } else {
            return Err(node.err(
                "a Constant without a value, value_float(s) or value_int(s) attribute".into(),
            ));
        };
        cx.bind(node, Val::Const(c));
        Ok(())
    }
}
