//! `MatMul`. By a constant 2-D matrix: of [batch, features], a bias-free `linear` layer; of
//! rows (tokens, pixels), a `dense` layer applying the matrix to every row of the last axis (a
//! transformer's projections). Both go onto crossbars; an Add of a constant right after either
//! becomes its bias (see `add.rs`). Of two computed tensors ([.., M, K] x [.., K, N], the
//! leading axis equal or 1, as attention's Q.K^T and A.V per head): a `matmul` layer, run in
//! the tiles' digital units; several leading axes (windows and heads) are merged into one
//! first. Refused: a weight that is not 2-D, leading axes that do not fit
//! one [C, H, W] axis.

use super::gemm::linear;
use super::OnnxOp;
use crate::onnx::context::{frame, Ctx, Node, Val};
use crate::onnx::OnnxError;
use crate::Op;

pub struct MatMul;

impl OnnxOp for MatMul {
    fn op_types(&self) -> &'static [&'static str] {
        &["MatMul"]
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        if matches!(cx.lookup(node, 1)?, Val::Const(_)) {
            let b = cx.konst_owned(node, 1, "weight (second operand)")?;
            return linear(cx, node, &b, false, 1.0, None, 1.0);
        }
        let x = cx.data(node, 0)?;
        let y = cx.data(node, 1)?;
        product(cx, node, x, y)
    }
}

/// The product of two computed tensors `x` [.., M, K] and `y` [.., K, N] as a `matmul` layer
/// (with `reshape` layers merging several leading axes where needed), bound to the node's
/// output.
pub(super) fn product(cx: &mut Ctx, node: &Node, x: String, y: String) -> Result<(), OnnxError> {
    let (dx, dy) = (cx.dims_of(&x), cx.dims_of(&y));
    // M x K and K x N must be the frames' H x W: the last two axes, each on its own.
    let rows_cols = |d: &[usize]| {
        let f = frame(d);
        d.len() >= 2 && f[1..] == d[d.len() - 2..]
    };
    let lead = |d: &[usize]| d[..d.len().saturating_sub(2)].to_vec();
    let (lx, ly) = (lead(&dx), lead(&dy));
    let (bx, by) = (lx.iter().product::<usize>(), ly.iter().product::<usize>());
    // ONNX broadcasts the leading axes axis by axis, aligned at the right; the merged product
    // holds the case where they are equal, or where the second operand's are all 1.
    let n = lx.len().max(ly.len());
    let pad = |l: &[usize]| [vec![1; n - l.len()], l.to_vec()].concat();
    let (px, py) = (pad(&lx), pad(&ly));
    let broadcast: Vec<usize> = px.iter().zip(&py).map(|(a, b)| *a.max(b)).collect();
    if dx.len() >= 2
        && dy.len() >= 2
        && (!rows_cols(&dx) || !rows_cols(&dy))
        && (px == py || by == 1)
    {
        // Several batch axes (Swin's windows and heads): merged into one, [B, M, K] x
        // [B or 1, K, N], the product's rows then laid out again under its ONNX dims.
        let rows_of = |b: usize, d: &[usize]| [b, d[d.len() - 2], d[d.len() - 1]];
        let xm = cx.laid_out(node, x, rows_of(bx, &dx))?;
        let ym = cx.laid_out(node, y, rows_of(by, &dy))?;
        let mut out = broadcast;
        out.push(dx[dx.len() - 2]);
        out.push(dy[dy.len() - 1]);
        cx.push_dims(node, Op::MatMul, vec![xm, ym], out)?;
        return Ok(());
    }
    if !rows_cols(&dx) || !rows_cols(&dy) {
        return Err(node.err(format!(
            "product of shapes {dx:?} and {dy:?}: each operand must be [.., M, K], the \
             leading axes of the second equal to the first's or all 1"
        )));
    }
    let mut out = broadcast;
    out.push(dx[dx.len() - 2]);
    out.push(dy[dy.len() - 1]);
    cx.push_dims(node, Op::MatMul, vec![x, y], out)?;
    Ok(())
}
