//! `Clip` becomes a `relu` layer for Clip(0, inf), a `relu6` layer for Clip(0, 6) and a `clip`
//! layer for other bounds (F.normalize's floor on the norm): the bounds are the constant scalar
//! inputs `min` and `max` (opset 11+) or, in older opsets, the attributes of those names.
//! Refused: computed bounds, min above max.

use super::OnnxOp;
use crate::onnx::context::{Ctx, Node};
use crate::onnx::OnnxError;
use crate::{Act, Op};

pub struct Clip;

impl OnnxOp for Clip {
    fn op_types(&self) -> &'static [&'static str] {
        &["Clip"]
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let bound = |k: usize, attr: &str, dflt: f32| -> Result<f32, OnnxError> {
            if node.has_input(k) {
                let t = cx.konst(node, k, attr)?;
                t.f.first()
                    .copied()
                    .filter(|_| t.f.len() == 1)
                    .ok_or_else(|| {
                        node.err(format!("{attr} must be a scalar, got shape {:?}", t.dims))
                    })
            } else {
                Ok(node.float(attr)?.unwrap_or(dflt))
            }
        };
        let (lo, hi) = (
            bound(1, "min", f32::NEG_INFINITY)?,
            bound(2, "max", f32::INFINITY)?,
        );
        let op = match (lo, hi) {
            (0.0, f32::INFINITY) => Op::Relu,
            (0.0, 6.0) => Op::Relu6,
            _ if lo.is_nan() || hi.is_nan() || lo > hi => {
                return Err(node.err(format!(
                    "Clip({lo}, {hi}): the bounds must be numbers with min <= max"
                )))
            }
            _ => Op::Act(Act::Clip { min: lo, max: hi }),
        };
        let x = cx.data(node, 0)?;
        cx.push(node, op, vec![x])?;
        Ok(())
    }
}
