//! `Conv` becomes a `conv` layer with its weight `W` [out, in / group, kh, kw] and optional
//! bias `B`, both constants. Honoured: `kernel_shape` (must match W), `group`, `strides` and
//! `dilations` (the same on both axes), `pads` or `auto_pad` (unequal sides through a `pad`
//! layer of zeros before the conv). Refused: 1-D/3-D convolutions, asymmetric strides or
//! dilations, a computed weight.

use super::OnnxOp;
use crate::onnx::context::{arr, pad_input, pads4, same_pair, Ctx, Node};
use crate::onnx::OnnxError;
use crate::Op;

pub struct Conv;

impl OnnxOp for Conv {
    fn op_types(&self) -> &'static [&'static str] {
        &["Conv"]
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let x = cx.data(node, 0)?;
        let w = cx.konst_owned(node, 1, "weight W")?;
        let [o, cg, kh, kw] = match w.dims.as_slice() {
            [a, b, c, d] => [*a, *b, *c, *d],
            d => {
                return Err(node.err(format!(
                    "weight of shape {d:?}: only 2-D convolutions (4-D weights) are supported"
                )))
            }
        };
        let b = if node.has_input(2) {
            let b = cx.konst_owned(node, 2, "bias B")?;
            if b.f.len() != o {
                return Err(node.err(format!("bias of shape {:?}; expected [{o}]", b.dims)));
            }
            Some(b)
        } else {
            None
        };
        if let Some(ks) = node.ints("kernel_shape")? {
            if ks != [kh as i64, kw as i64] {
                return Err(node.err(format!(
                    "kernel_shape {ks:?} disagrees with the weight's {kh}x{kw}"
                )));
            }
        }
        let groups = node.int("group", 1)?;
        let [c, h, wd] = cx.shape_of(&x);
        if groups < 1 || cg * groups as usize != c || o % groups as usize != 0 {
            return Err(node.err(format!(
                "group {groups} with a weight of {cg} input channels per group does not fit the \
                 input's {c} channels and {o} outputs"
            )));
        }
        let at = &node.attrs;
        let stride = same_pair(at, "strides", 1).map_err(|m| node.err(m))?;
        let dilation = same_pair(at, "dilations", 1).map_err(|m| node.err(m))?;
        let pads = pads4(at, [h, wd], [kh, kw], stride, dilation).map_err(|m| node.err(m))?;
        let (x, padding) = pad_input(cx, node, x, pads, false)?;
        let op = Op::Conv {
            out_channels: o,
            kernel: [kh, kw],
            stride,
            padding,
            dilation,
            groups: groups as usize,
            bias: b.is_some(),
        };
        let j = cx.push(node, op, vec![x])?;
        cx.set_weight(j, "weight", arr(&w.dims, w.f));
        if let Some(b) = b {
            cx.set_weight(j, "bias", arr(&[o], b.f));
        }
        Ok(())
    }
}
