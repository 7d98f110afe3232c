//! `MaxPool` and `AveragePool` become `maxpool` and `avgpool` layers; `GlobalAveragePool`
//! becomes a `gap` layer. Honoured: a square `kernel_shape`, `strides` (the same on both axes),
//! `pads` or `auto_pad` (unequal sides through a `pad` layer before the pool: zeros before an
//! average, -infinity before a max), `ceil_mode` on MaxPool (the extra bottom/right windows
//! are -infinity padding; a window may not start past the input and its left padding, as in
//! PyTorch), `count_include_pad` = 1 (the runner averages over padded zeros). Refused:
//! dilated windows, average pooling that excludes padding or whose ceil_mode changes the
//! size, a read indices output.

use super::OnnxOp;
use crate::onnx::context::{pad_input, pads4, same_pair, Ctx, Node};
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
        let max = node.proto.op_type == "MaxPool";
        let (kernel, stride, pads) =
            pool_params(&node.attrs, [h, w], max).map_err(|m| node.err(m))?;
        if !max && pads.iter().any(|&p| p > 0) && node.int("count_include_pad", 0)? == 0 {
            return Err(node.err(format!(
                "count_include_pad = 0 with pads {pads:?}: the runner's average pool counts \
                 padded zeros (count_include_pad = 1)"
            )));
        }
        let (x, padding) = pad_input(cx, node, x, pads, max)?;
        let op = if max {
            Op::MaxPool {
                kernel,
                stride,
                padding,
            }
        } else {
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

/// (kernel, stride, pads [top, left, bottom, right]) of a 2-D pooling node; ceil_mode adds
/// bottom/right padding on a max pool and is refused where it changes an average pool.
fn pool_params(
    at: &Attrs,
    [h, w]: [usize; 2],
    max: bool,
) -> Result<(usize, usize, [usize; 4]), String> {
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
    let mut p = pads4(at, [h, w], [k, k], stride, 1)?;
    if at.int("ceil_mode", 0)? != 0 {
        // Extra end padding so that floor mode gives the ceil-mode size.
        let extra = |len: usize, lo: usize, hi: usize| -> Result<usize, String> {
            let span = (len + lo + hi)
                .checked_sub(k)
                .ok_or_else(|| format!("kernel {k} is larger than the padded input {len}"))?;
            let mut out = span.div_ceil(stride) + 1;
            if (out - 1) * stride >= len + lo {
                out -= 1;
            }
            Ok(((out - 1) * stride + k).saturating_sub(len + lo + hi))
        };
        let (eh, ew) = (extra(h, p[0], p[2])?, extra(w, p[1], p[3])?);
        if (eh, ew) != (0, 0) && !max {
            return Err(format!(
                "ceil_mode = 1 changes the output size here ({h}x{w}, kernel {k}, stride \
                 {stride}, pads {p:?}); average pooling supports only floor mode"
            ));
        }
        p[2] += eh;
        p[3] += ew;
    }
    Ok((k, stride, p))
}
