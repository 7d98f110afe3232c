//! `MatMul`. By a constant 2-D matrix: of [batch, features], a bias-free `linear` layer; of a
//! rank 3 or 4 tensor, a `dense` layer applying the matrix to every row of the last axis (a
//! transformer's projections). Both go onto crossbars; an Add of a constant right after either
//! becomes its bias (see `add.rs`). Of two computed tensors ([.., M, K] x [.., K, N], the
//! leading axis equal or 1, as attention's Q.K^T and A.V per head): a `matmul` layer, run in
//! the tiles' digital units. Refused: a weight that is not 2-D, ranks above 4.

use super::gemm::linear;
use super::OnnxOp;
use crate::onnx::context::{arr, Ctx, Node, Val};
use crate::onnx::OnnxError;
use crate::Op;

pub struct MatMul;

impl OnnxOp for MatMul {
    fn op_types(&self) -> &'static [&'static str] {
        &["MatMul"]
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let x = cx.data(node, 0)?;
        let dims = cx.dims_of(&x);
        if !matches!(cx.lookup(node, 1)?, Val::Const(_)) {
            let y = cx.data(node, 1)?;
            let dy = cx.dims_of(&y);
            if !(2..=3).contains(&dims.len()) || !(2..=3).contains(&dy.len()) {
                return Err(node.err(format!(
                    "product of shapes {dims:?} and {dy:?} (batch left out): each operand must \
                     be [M, K] or [heads, M, K]"
                )));
            }
            let mut out = dims.clone();
            *out.last_mut().expect("rank >= 2") = *dy.last().expect("rank >= 2");
            if dims.len() == 2 && dy.len() == 3 {
                out.insert(0, dy[0]);
            }
            cx.push_dims(node, Op::MatMul, vec![x, y], out)?;
            return Ok(());
        }
        let b = cx.konst(node, 1, "weight (second operand)")?.clone();
        if dims.len() <= 1 {
            return linear(cx, node, &b, false, 1.0, None, 1.0);
        }
        let [k, o] = match b.dims.as_slice() {
            [a, c] => [*a, *c],
            d => return Err(node.err(format!("weight of shape {d:?}: a 2-D matrix is needed"))),
        };
        let last = *dims.last().expect("rank >= 2");
        if dims.len() > 3 || last != k {
            return Err(node.err(format!(
                "weight of shape {:?} by an input of shape {dims:?} (batch left out): the input's \
                 last axis must be the weight's {k} rows, at rank 3 or 4",
                b.dims
            )));
        }
        let mut out = dims.clone();
        *out.last_mut().expect("rank >= 2") = o;
        let op = Op::Dense {
            out_features: o,
            bias: false,
        };
        let j = cx.push_dims(node, op, vec![x], out)?;
        // Runner layout: [out, k].
        let w: Vec<f32> = (0..o * k).map(|i| b.f[(i % k) * o + i / k]).collect();
        cx.set_weight(j, "weight", arr(&[o, k], w));
        Ok(())
    }
}
