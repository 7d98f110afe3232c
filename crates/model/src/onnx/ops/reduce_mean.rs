//! `ReduceMean` becomes a `reducemean` layer, `ReduceL2` (F.normalize's norm, Swin V2's cosine
//! attention) a `mul` of the input by itself, a `reducemean`, an `affine` by the count and a
//! `sqrt`. Honoured: `axes` as attribute (opset < 18) or constant input (opset 18), negative
//! axes, `keepdims` (a dropped axis changes only the layout), one axis the frame holds merged
//! with others (grouped around it first). Refused: no axes (a reduction over everything),
//! computed axes.

use super::OnnxOp;
use crate::onnx::context::{around, frame_axis, onnx_axis, per_frame, Ctx, Node};
use crate::onnx::OnnxError;
use crate::{Act, Op};

pub struct ReduceMean;

impl OnnxOp for ReduceMean {
    fn op_types(&self) -> &'static [&'static str] {
        &["ReduceMean", "ReduceL2"]
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let x = cx.data(node, 0)?;
        let dims = cx.dims_of(&x);
        let list = cx.ints_arg(node, 1, "axes")?.unwrap_or_default();
        // Opset 18: no axes with noop_with_empty_axes = 1 leaves the tensor as it is.
        if list.is_empty() && node.int("noop_with_empty_axes", 0)? != 0 {
            let v = cx.lookup(node, 0)?.clone();
            cx.bind(node, v);
            return Ok(());
        }
        if list.is_empty() {
            return Err(node.err(
                "no axes: a reduction over every axis including the batch is not supported".into(),
            ));
        }
        let mut onnx_axes = Vec::new();
        for &a in &list {
            onnx_axes.push(onnx_axis(&dims, a).map_err(|m| node.err(m))?);
        }
        if onnx_axes
            .iter()
            .enumerate()
            .any(|(i, a)| onnx_axes[..i].contains(a))
        {
            return Err(node.err(format!("axes {list:?}: an axis repeats")));
        }
        let keep = node.int("keepdims", 1)? != 0;
        let out: Vec<usize> = dims
            .iter()
            .enumerate()
            .filter_map(|(d, &n)| match onnx_axes.contains(&d) {
                false => Some(n),
                true if keep => Some(1),
                true => None,
            })
            .collect();
        if node.proto.op_type == "ReduceMean" {
            mean(cx, node, x, &dims, &list, out)?;
            return Ok(());
        }
        // ||x||_2 = sqrt(n * mean(x * x)) over the n values reduced (F.normalize's norm).
        let n: usize = onnx_axes.iter().map(|&a| dims[a]).product();
        let j = cx.push_dims(node, Op::Mul, vec![x.clone(), x], dims.clone())?;
        let sq = cx.layers[j].name.clone();
        let m = mean(cx, node, sq, &dims, &list, out.clone())?;
        let alpha = n as f32;
        let j = cx.push_dims(
            node,
            Op::Act(Act::Affine { alpha, beta: 0.0 }),
            vec![m],
            out.clone(),
        )?;
        let s = cx.layers[j].name.clone();
        cx.push_dims(node, Op::Act(Act::Sqrt), vec![s], out)?;
        Ok(())
    }
}

/// A `reducemean` layer of `x` (ONNX `dims`) over ONNX axes `list`, recorded with dims `out`;
/// one axis held merged with others in the frame (the last of a rank-4 tensor) is grouped
/// around first. Returns the layer's name.
fn mean(
    cx: &mut Ctx,
    node: &Node,
    x: String,
    dims: &[usize],
    list: &[i64],
    out: Vec<usize>,
) -> Result<String, OnnxError> {
    let mut axes = [false; 3];
    let mut merged = None;
    for &a in list {
        let i = onnx_axis(dims, a).map_err(|m| node.err(m))?;
        // A mean over an axis of size 1 (the batch among them) changes nothing.
        if dims[i] == 1 {
            continue;
        }
        match frame_axis(dims, a) {
            Ok(f) => axes[f] = true,
            Err(_) if list.len() == 1 && i >= per_frame(dims).1 => merged = Some(i),
            Err(m) => return Err(node.err(m)),
        }
    }
    let src = match merged {
        None => x,
        Some(i) => {
            axes = [false, true, false];
            cx.laid_out(node, x, around(dims, i))?
        }
    };
    let j = cx.push_dims(node, Op::ReduceMean { axes }, vec![src], out)?;
    Ok(cx.layers[j].name.clone())
}
