//! `MaxPool` and `AveragePool` become `maxpool` and `avgpool` layers; `GlobalAveragePool`
//! becomes a `gap` layer. Honoured: a square `kernel_shape`, `strides` (the same on both axes),
//! `pads` or `auto_pad` (the same on every side), `ceil_mode` where it does not change the
//! output size, `count_include_pad` = 1 (the runner averages over padded zeros). Refused:
//! dilated windows, average pooling that excludes padding, a read indices output.

use super::OnnxOp;
use crate::onnx::context::{padding, same_pair, Ctx, Node};
use crate::onnx::proto::Attrs;
use crate::onnx::OnnxError;
use crate::Op;

pub struct Pool;

impl OnnxOp for Pool {
    fn op_types(&self) -> &'static [&'static str] {
        &["MaxPool", "AveragePool"]
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        cx.extra_outputs_unused(node, 1)?;
        let x = cx.data(node, 0)?;
        let [_, h, w] = cx.shape_of(&x);
        let (kernel, stride, padding) =
            pool_params(&node.attrs, [h, w]).map_err(|m| node.err(m))?;
        let op = if node.proto.op_type == "MaxPool" {
            Op::MaxPool {
                kernel,
                stride,
                padding,
            }
        } else {
            if padding > 0 && node.int("count_include_pad", 0)? == 0 {
                return Err(node.err(format!(
                    "count_include_pad = 0 with padding {padding}: the runner's average pool \
                     counts padded zeros (count_include_pad = 1)"
                )));
            }
            Op::AvgPool {
                kernel,
                stride,
                padding,
            }
        };
        cx.push(node, op, vec![x])?;
        Ok(())
    }
}

pub struct GlobalAveragePool;

impl OnnxOp for GlobalAveragePool {
    fn op_types(&self) -> &'static [&'static str] {
        &["GlobalAveragePool"]
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let x = cx.data(node, 0)?;
        cx.push(node, Op::GlobalAvgPool, vec![x])?;
        Ok(())
    }
}

/// (kernel, stride, padding) of a 2-D pooling node; ceil_mode only where it changes nothing.
fn pool_params(at: &Attrs, [h, w]: [usize; 2]) -> Result<(usize, usize, usize), String> {
    let ks = at.ints("kernel_shape")?.ok_or("kernel_shape is missing")?;
    if ks.len() != 2 || ks[0] != ks[1] || ks[0] < 1 {
        return Err(format!(
            "kernel_shape {ks:?}: only square 2-D windows are supported"
        ));
    }
    let k = ks[0] as usize;
    let stride = same_pair(at, "strides", 1)?;
    if let Some(d) = at.ints("dilations")? {
        if d.iter().any(|&x| x != 1) {
            return Err(format!(
                "dilations {d:?}: pooling windows must not be dilated"
            ));
        }
    }
    let p = padding(at, [h, w], [k, k], stride, 1)?;
    if at.int("ceil_mode", 0)? != 0 {
        let exact = |len: usize| {
            (len + 2 * p)
                .checked_sub(k)
                .is_some_and(|r| r % stride == 0)
        };
        if !(exact(h) && exact(w)) {
            return Err(format!(
                "ceil_mode = 1 changes the output size here ({h}x{w}, kernel {k}, stride \
                 {stride}, padding {p}); only floor mode is supported"
            ));
        }
    }
    Ok((k, stride, p))
}
