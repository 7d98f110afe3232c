//! `BatchNormalization` (inference form) becomes a `bn` layer with its scale, bias, mean and
//! variance (constants of one value per channel) as `weight`, `bias`, `running_mean` and
//! `running_var`. Honoured: `epsilon`, absorbed into the variance since the runner's epsilon
//! is fixed at 1e-5. Refused: `training_mode` = 1, a read running-stats output.

use super::OnnxOp;
use crate::onnx::context::{arr, Ctx, Node};
use crate::onnx::OnnxError;
use crate::Op;

/// The batch-norm epsilon of the runner and the trainer (PyTorch's default).
const RUNNER_BN_EPS: f32 = 1e-5;

pub struct BatchNorm;

impl OnnxOp for BatchNorm {
    fn op_types(&self) -> &'static [&'static str] {
        &["BatchNormalization"]
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        if node.int("training_mode", 0)? != 0 {
            return Err(node.err("training_mode = 1: export the network in eval mode".into()));
        }
        cx.extra_outputs_unused(node, 1)?;
        let x = cx.data(node, 0)?;
        let c = cx.shape_of(&x)[0];
        let eps = node.float("epsilon")?.unwrap_or(1e-5);
        let mut p = Vec::new();
        for (k, what) in ["scale", "bias B", "mean", "var"].iter().enumerate() {
            let t = cx.konst(node, k + 1, what)?;
            if t.f.len() != c {
                return Err(node.err(format!(
                    "{what} has {} values (shape {:?}); the input has {c} channels",
                    t.f.len(),
                    t.dims
                )));
            }
            p.push(t.f.clone());
        }
        // (x - m) / sqrt(v + eps) == (x - m) / sqrt((v + eps - 1e-5) + 1e-5).
        for v in p[3].iter_mut() {
            *v += eps - RUNNER_BN_EPS;
            if *v + RUNNER_BN_EPS <= 0.0 {
                return Err(node.err("var + epsilon is not positive".into()));
            }
        }
        let j = cx.push(node, Op::BatchNorm, vec![x])?;
        for (suffix, v) in ["weight", "bias", "running_mean", "running_var"]
            .iter()
            .zip(p)
        {
            cx.set_weight(j, suffix, arr(&[c], v));
        }
        Ok(())
    }
}
