//! `Slice` becomes one `slice` layer per sliced axis; `Gather` of a constant index (a scalar
//! drops the axis, one index keeps it) becomes a one-wide `slice` (ViT's class token). Honoured:
//! `starts`, `ends`, `axes`, `steps` as constant inputs (opset 10+) or attributes, negative and
//! out-of-range bounds clamped as ONNX does. Refused: the batch axis, negative steps, an empty
//! result, several gathered indices.

use super::OnnxOp;
use crate::onnx::context::{frame_axis, onnx_axis, Ctx, Node};
use crate::onnx::OnnxError;
use crate::Op;

pub struct Slice;

impl OnnxOp for Slice {
    fn op_types(&self) -> &'static [&'static str] {
        &["Slice", "Gather"]
    }

    fn listed(&self) -> String {
        "Slice, Gather (one constant index)".into()
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let mut x = cx.data(node, 0)?;
        let dims = cx.dims_of(&x);
        if node.proto.op_type == "Gather" {
            let idx = cx.konst(node, 1, "indices")?;
            let (scalar, ints) = (idx.dims.is_empty(), idx.ints.clone().unwrap_or_default());
            let [i] = ints[..] else {
                return Err(node.err(format!(
                    "indices of shape {:?}: only one constant index is supported",
                    idx.dims
                )));
            };
            let axis = node.int("axis", 0)?;
            let j = slice_axis(cx, node, x, &dims, axis, i, i + 1, 1, !scalar)?;
            let _ = j;
            return Ok(());
        }
        let list = |k: usize, attr: &str| cx.ints_arg(node, k, attr);
        let starts = list(1, "starts")?.unwrap_or_default();
        let ends = list(2, "ends")?.unwrap_or_default();
        let axes = list(3, "axes")?.unwrap_or_else(|| (0..starts.len() as i64).collect());
        let steps = list(4, "steps")?.unwrap_or_else(|| vec![1; starts.len()]);
        if [ends.len(), axes.len(), steps.len()] != [starts.len(); 3] || starts.is_empty() {
            return Err(node.err(format!(
                "starts {starts:?}, ends {ends:?}, axes {axes:?}, steps {steps:?}: one of each \
                 per sliced axis is needed"
            )));
        }
        let mut cur = dims;
        for k in 0..starts.len() {
            let j = slice_axis(
                cx, node, x, &cur, axes[k], starts[k], ends[k], steps[k], true,
            )?;
            x = cx.layers[j].name.clone();
            cur = cx.dims_of(&x);
        }
        Ok(())
    }
}

/// One `slice` layer of ONNX axis `axis` of `x` (dims `dims`), keeping the axis or dropping it.
#[allow(clippy::too_many_arguments)]
fn slice_axis(
    cx: &mut Ctx,
    node: &Node,
    x: String,
    dims: &[usize],
    axis: i64,
    start: i64,
    end: i64,
    step: i64,
    keep: bool,
) -> Result<usize, OnnxError> {
    let fa = frame_axis(dims, axis).map_err(|m| node.err(m))?;
    let d = onnx_axis(dims, axis).map_err(|m| node.err(m))?;
    let n = dims[d] as i64;
    let clamp = |v: i64| if v < 0 { v + n } else { v }.clamp(0, n) as usize;
    let (s, e) = (clamp(start), clamp(end));
    if step < 1 || s >= e {
        return Err(node.err(format!(
            "slice {start}..{end} step {step} of axis {axis} (size {n}): only a non-empty slice \
             with a positive step is supported"
        )));
    }
    let mut out = dims.to_vec();
    out[d] = (e - s).div_ceil(step as usize);
    if !keep {
        out.remove(d);
    }
    let op = Op::Slice {
        axis: fa,
        start: s,
        end: e,
        step: step as usize,
    };
    cx.push_dims(node, op, vec![x], out)
}

pub struct Split;

impl OnnxOp for Split {
    fn op_types(&self) -> &'static [&'static str] {
        &["Split"]
    }

    /// Each output becomes a `slice` layer. Honoured: `split` sizes as input (opset 13+) or
    /// attribute, `num_outputs` (opset 18), an equal split by the output count, negative
    /// axes. Refused: the batch axis, sizes that do not add up to the axis.
    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let x = cx.data(node, 0)?;
        let dims = cx.dims_of(&x);
        let axis = node.int("axis", 0)?;
        let fa = frame_axis(&dims, axis).map_err(|m| node.err(m))?;
        let d = onnx_axis(&dims, axis).map_err(|m| node.err(m))?;
        let outs = node.proto.output.len();
        let sizes: Vec<usize> = match (node.has_input(1), node.ints("split")?) {
            (true, _) => cx
                .konst(node, 1, "split")?
                .ints
                .clone()
                .unwrap_or_default()
                .iter()
                .map(|&v| v.max(0) as usize)
                .collect(),
            (false, Some(v)) => v.iter().map(|&v| v.max(0) as usize).collect(),
            (false, None) => {
                let per = dims[d].div_ceil(outs.max(1));
                (0..outs)
                    .map(|k| per.min(dims[d].saturating_sub(k * per)))
                    .collect()
            }
        };
        if sizes.len() != outs || sizes.iter().sum::<usize>() != dims[d] || sizes.contains(&0) {
            return Err(node.err(format!(
                "split sizes {sizes:?} for {outs} outputs do not cut axis {axis} of size {} into \
                 non-empty parts",
                dims[d]
            )));
        }
        let mut at = 0;
        for (k, &n) in sizes.iter().enumerate() {
            let mut out = dims.clone();
            out[d] = n;
            let op = Op::Slice {
                axis: fa,
                start: at,
                end: at + n,
                step: 1,
            };
            cx.push_out(node, k, op, vec![x.clone()], Some(out))?;
            at += n;
        }
        Ok(())
    }
}
