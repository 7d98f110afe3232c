//! `Gemm` (alpha * X * B' + beta * C) becomes a `linear` layer: B (transposed or not) scaled by
//! alpha is its weight, beta * C its bias. Honoured: `transB`, `alpha`, `beta`, a C broadcast
//! per output or a scalar; an input of several rows ([tokens, features]) becomes a `dense`
//! layer. Refused: `transA` = 1, a computed B or C. MatMul shares [`linear`].

use super::OnnxOp;
use crate::onnx::context::{arr, broadcast_bias, frame, per_frame, Ctx, Node};
use crate::onnx::proto::Const;
use crate::onnx::OnnxError;
use crate::Op;

pub struct Gemm;

impl OnnxOp for Gemm {
    fn op_types(&self) -> &'static [&'static str] {
        &["Gemm"]
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        if node.int("transA", 0)? != 0 {
            return Err(node.err("transA = 1: the data operand must not be transposed".into()));
        }
        let trans_b = node.int("transB", 0)? != 0;
        let alpha = node.float("alpha")?.unwrap_or(1.0);
        let beta = node.float("beta")?.unwrap_or(1.0);
        let b = cx.konst_owned(node, 1, "weight B")?;
        let c = if node.has_input(2) {
            Some(cx.konst_owned(node, 2, "bias C")?)
        } else {
            None
        };
        linear(cx, node, &b, trans_b, alpha, c.as_ref(), beta)
    }
}

/// A linear layer of input 0 with weight `alpha * b` (`b` [k, out], or [out, k] when
/// `trans_b`) and bias `beta * c`: `linear` on one vector of features, `dense` (the matrix on
/// every row of the last axis) on rows of tokens or pixels.
pub fn linear(
    cx: &mut Ctx,
    node: &Node,
    b: &Const,
    trans_b: bool,
    alpha: f32,
    c: Option<&Const>,
    beta: f32,
) -> Result<(), OnnxError> {
    let x = cx.data(node, 0)?;
    let dims = cx.dims_of(&x);
    let [d0, d1] = match b.dims.as_slice() {
        [a, b] => [*a, *b],
        d => return Err(node.err(format!("weight of shape {d:?}: a 2-D matrix is needed"))),
    };
    let (out, k) = if trans_b { (d0, d1) } else { (d1, d0) };
    // Rows (tokens, pixels) rather than one vector of flat features: a dense layer.
    let rows = per_frame(&dims).0.len() > 1;
    let feats: usize = if rows {
        frame(&dims)[2]
    } else {
        cx.shape_of(&x).iter().product()
    };
    if feats != k || rows && dims.last() != Some(&k) {
        return Err(node.err(format!(
            "weight of shape {:?} takes {k} features; its input of shape {dims:?} has {feats} \
             per row",
            b.dims
        )));
    }
    // Runner layout: [out, k].
    let w: Vec<f32> = (0..out * k)
        .map(|idx| {
            let (r, col) = (idx / k, idx % k);
            alpha
                * if trans_b {
                    b.f[r * k + col]
                } else {
                    b.f[col * out + r]
                }
        })
        .collect();
    let bias = match c {
        Some(c) => Some(
            broadcast_bias(c, out, false)
                .map_err(|m| node.err(m))?
                .iter()
                .map(|v| v * beta)
                .collect::<Vec<_>>(),
        ),
        None => None,
    };
    let j = if rows {
        let op = Op::Dense {
            out_features: out,
            bias: bias.is_some(),
        };
        let mut od = dims.clone();
        *od.last_mut().expect("rows") = out;
        cx.push_dims(node, op, vec![x], od)?
    } else {
        let op = Op::Linear {
            out_features: out,
            bias: bias.is_some(),
        };
        cx.push(node, op, vec![x])?
    };
    cx.set_weight(j, "weight", arr(&[out, k], w));
    if let Some(bias) = bias {
        cx.set_weight(j, "bias", arr(&[out], bias));
    }
    Ok(())
}
