//! `Reshape` to [batch, features] (as exporters write a flatten before a linear layer)
//! becomes a `flatten` layer. The shape must be a constant [b, f] with b in -1..=1 and f the
//! input's feature count, or -1 when b is not. Refused: any other target shape.

use super::OnnxOp;
use crate::onnx::context::{Ctx, Node};
use crate::onnx::OnnxError;
use crate::Op;

pub struct Reshape;

impl OnnxOp for Reshape {
    fn op_types(&self) -> &'static [&'static str] {
        &["Reshape"]
    }

    fn listed(&self) -> String {
        "Reshape (to [batch, features])".into()
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let x = cx.data(node, 0)?;
        let f: usize = cx.shape_of(&x).iter().product();
        let s = cx.konst(node, 1, "shape")?;
        let ints = s.ints.clone().unwrap_or_default();
        let ok = match ints.as_slice() {
            [b, feat] => {
                let batch_ok = (-1..=1).contains(b);
                let feat_ok = *feat == f as i64 || (*feat == -1 && *b != -1);
                batch_ok && feat_ok
            }
            _ => false,
        };
        if !ok {
            return Err(node.err(format!(
                "Reshape to {ints:?}: only a flatten to [batch, {f}] (before a linear layer) is \
                 supported"
            )));
        }
        cx.push(node, Op::Flatten, vec![x])?;
        Ok(())
    }
}
