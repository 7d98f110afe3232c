//! `Add` and `Sum` of computed tensors become an `add` layer (a one-input Sum passes its input
//! through). A constant added to the Conv, MatMul or Gemm right before it, when nothing else
//! reads that node's output, becomes (or adds to) that layer's bias, as exporters split a
//! linear layer into MatMul + Add; any other scalar constant, an `affine` layer x + c; a
//! constant that broadcasts to the other operand's shape (position embeddings, Swin's position
//! bias and window mask), expanded to that shape, a `const` layer and an `add`. Refused: a
//! constant that would grow the operand (ONNX broadcasting both ways).

use super::OnnxOp;
use crate::onnx::context::{broadcast_bias, broadcast_to, Ctx, Node, Val};
use crate::onnx::proto::Const;
use crate::onnx::OnnxError;
use crate::{Act, Op};
use ndarray::{ArrayD, IxDyn};

pub struct Add;

impl OnnxOp for Add {
    fn op_types(&self) -> &'static [&'static str] {
        &["Add", "Sum"]
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let ins: Vec<&str> = node
            .proto
            .input
            .iter()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .collect();
        let consts: Vec<usize> = (0..ins.len())
            .filter(|&k| matches!(cx.vals.get(ins[k]), Some(Val::Const(_))))
            .collect();
        if consts.is_empty() {
            if ins.len() < 2 {
                // A one-input Sum is an identity.
                let v = cx.lookup(node, 0)?.clone();
                cx.bind(node, v);
                return Ok(());
            }
            let xs = (0..ins.len())
                .map(|k| cx.data(node, k))
                .collect::<Result<Vec<_>, _>>()?;
            cx.push(node, Op::Add, xs)?;
            return Ok(());
        }
        let cannot = || {
            node.err(
                "an Add of a constant is supported only as the bias of the Conv, MatMul or Gemm \
                 right before it, when nothing else reads that node's output, of a scalar, or \
                 of a constant that broadcasts to the other operand's shape"
                    .into(),
            )
        };
        if ins.len() != 2 || consts.len() != 1 {
            return Err(cannot());
        }
        let other = 1 - consts[0];
        if !bias_target(cx, ins[other]) {
            let x = cx.data(node, other)?;
            match cx.vals.get(ins[consts[0]]) {
                Some(Val::Const(c)) if c.f.len() == 1 => {
                    let beta = c.f[0];
                    cx.push(node, Op::Act(Act::Affine { alpha: 1.0, beta }), vec![x])?;
                }
                _ => {
                    // Position embeddings (a constant of the operand's own shape), Swin's
                    // position bias and window mask (broadcast over windows or heads): the
                    // constant, expanded to the operand's shape, as a `const` layer.
                    let dims = cx.dims_of(&x);
                    let c = cx.konst(node, consts[0], "operand")?;
                    let c = expand(c, &dims).ok_or_else(|| {
                        node.err(format!(
                            "Add of a constant of shape {:?} to a tensor of shape {dims:?}: a \
                             constant must be a bias, a scalar or broadcast to the tensor's shape",
                            c.dims
                        ))
                    })?;
                    let k = cx.const_value(node, c, dims.len())?;
                    let mut ins = vec![x, k];
                    if consts[0] == 0 {
                        ins.reverse();
                    }
                    cx.push_dims(node, Op::Add, ins, dims)?;
                }
            }
            return Ok(());
        }
        let Some(Val::Layer(j)) = cx.vals.get(ins[other]).cloned() else {
            return Err(cannot());
        };
        if cx.readers.get(ins[other]).copied().unwrap_or(0) != 1 {
            return Err(cannot());
        }
        let c = match cx.vals.get(ins[consts[0]]) {
            Some(Val::Const(c)) => c.clone(),
            _ => unreachable!("classified as a constant"),
        };
        let ln = cx.layers[j].name.clone();
        let (out, conv) = match &mut cx.layers[j].op {
            Op::Linear { out_features, bias } | Op::Dense { out_features, bias } => {
                *bias = true;
                (*out_features, false)
            }
            Op::Conv {
                out_channels, bias, ..
            } => {
                *bias = true;
                (*out_channels, true)
            }
            _ => return Err(cannot()),
        };
        let add = broadcast_bias(&c, out, conv).map_err(|m| node.err(m))?;
        let entry = cx
            .weights
            .entry(format!("{ln}.bias"))
            .or_insert_with(|| ArrayD::zeros(IxDyn(&[out])));
        for (b, v) in entry.iter_mut().zip(add) {
            *b += v;
        }
        cx.bind(node, Val::Layer(j));
        Ok(())
    }
}

/// Whether `v` is a conv/linear/dense layer's output that only this Add reads (its bias).
fn bias_target(cx: &Ctx, v: &str) -> bool {
    let Some(Val::Layer(j)) = cx.vals.get(v) else {
        return false;
    };
    cx.readers.get(v).copied().unwrap_or(0) == 1
        && matches!(
            cx.layers[*j].op,
            Op::Conv { .. } | Op::Linear { .. } | Op::Dense { .. }
        )
}

/// `c` broadcast (ONNX rules: the ends aligned, each axis equal or 1) to exactly `dims`, or
/// None where it does not broadcast to them.
fn expand(c: &Const, dims: &[usize]) -> Option<Const> {
    Some(Const {
        f: broadcast_to(&c.dims, &c.f, dims)?,
        dims: dims.to_vec(),
        ints: None,
    })
}
