//! The element-wise functions of one input, each becoming a layer of the same name:
//! `Sigmoid`, `HardSigmoid` (`alpha`, `beta` honoured), `HardSwish`, `Erf`, `Tanh`, `Sqrt`,
//! `Exp` and `Gelu` (opset 20; `approximate` = "none" only). SiLU exports as Sigmoid then a Mul of two
//! computed tensors, GELU before opset 20 as Div, Erf, Add, Mul, Mul: both map op by op.

use super::OnnxOp;
use crate::onnx::context::{Ctx, Node};
use crate::onnx::OnnxError;
use crate::{Act, Op};

pub struct Activation;

impl OnnxOp for Activation {
    fn op_types(&self) -> &'static [&'static str] {
        &[
            "Sigmoid",
            "HardSigmoid",
            "HardSwish",
            "Erf",
            "Tanh",
            "Gelu",
            "Sqrt",
            "Exp",
        ]
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let f = match node.proto.op_type.as_str() {
            "Sigmoid" => Act::Sigmoid,
            "HardSigmoid" => Act::HardSigmoid {
                alpha: node.float("alpha")?.unwrap_or(0.2),
                beta: node.float("beta")?.unwrap_or(0.5),
            },
            "HardSwish" => Act::HardSwish,
            "Erf" => Act::Erf,
            "Tanh" => Act::Tanh,
            "Sqrt" => Act::Sqrt,
            "Exp" => Act::Exp,
            _ => {
                let a = node.string("approximate", "none")?;
                if a != "none" {
                    return Err(node.err(format!(
                        "approximate `{a}`: only the exact GELU (`none`) is supported"
                    )));
                }
                Act::Gelu
            }
        };
        let x = cx.data(node, 0)?;
        cx.push(node, Op::Act(f), vec![x])?;
        Ok(())
    }
}
