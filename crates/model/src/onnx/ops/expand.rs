//! `Expand` of a computed tensor (F.normalize's norm expanded over the features it divides)
//! becomes a `mul` by a `const` layer of ones: the axes are grouped into runs that are either
//! all broadcast or all kept, the tensor laid out as those runs (1 where broadcast), the ones
//! as the broadcast runs' sizes (1 where kept), so that the product's broadcasting of 1-sized
//! [C, H, W] axes is the expansion; multiplying by 1.0 is exact. An Expand that adds nothing
//! binds its input. Refused: more than three alternating runs, a shape that does not
//! broadcast.

use super::OnnxOp;
use crate::onnx::context::{count_within, Ctx, Node};
use crate::onnx::proto::Const;
use crate::onnx::OnnxError;
use crate::Op;

pub struct Expand;

impl OnnxOp for Expand {
    fn op_types(&self) -> &'static [&'static str] {
        &["Expand"]
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let x = cx.data(node, 0)?;
        let dims = cx.dims_of(&x);
        let shape: Vec<i64> = cx
            .konst(node, 1, "shape")?
            .ints
            .clone()
            .ok_or_else(|| node.err("shape must be integers".into()))?;
        let r = dims.len().max(shape.len());
        let xd: Vec<usize> = std::iter::repeat_n(1, r - dims.len())
            .chain(dims.iter().copied())
            .collect();
        let sd: Vec<i64> = std::iter::repeat_n(1, r - shape.len())
            .chain(shape.iter().copied())
            .collect();
        let mut out = Vec::with_capacity(r);
        for (&a, &b) in xd.iter().zip(&sd) {
            out.push(match (a, b) {
                (a, b) if b == 1 || b as usize == a => a,
                (1, b) if b > 1 => b as usize,
                _ => {
                    return Err(node.err(format!(
                        "shape {shape:?} does not broadcast with the tensor's {dims:?}"
                    )))
                }
            });
        }
        if count_within(&out).is_none() {
            return Err(node.err(format!(
                "shape {shape:?}: the expanded tensor {out:?} would hold more than 2^31 values"
            )));
        }
        if out == xd {
            let v = cx.lookup(node, 0)?.clone();
            cx.bind(node, v);
            return Ok(());
        }
        // Runs of axes alike (broadcast or kept), axes of size 1 in the output joining any.
        let mut runs: Vec<(bool, usize)> = Vec::new();
        for a in 0..r {
            if out[a] == 1 {
                continue;
            }
            let b = xd[a] == 1;
            match runs.last_mut() {
                Some((kind, size)) if *kind == b => *size *= out[a],
                _ => runs.push((b, out[a])),
            }
        }
        if runs.len() > 3 {
            return Err(node.err(format!(
                "expanding {dims:?} to {out:?} alternates broadcast and kept axes {} times; at \
                 most 3 runs fit [C, H, W]",
                runs.len()
            )));
        }
        let lead = 3 - runs.len();
        let mut held = [1usize; 3];
        let mut ones = [1usize; 3];
        for (i, &(b, size)) in runs.iter().enumerate() {
            if b {
                ones[lead + i] = size;
            } else {
                held[lead + i] = size;
            }
        }
        let src = cx.laid_out(node, x, held)?;
        let c = Const {
            dims: ones.to_vec(),
            f: vec![1.0; ones.iter().product()],
            ints: None,
        };
        let k = cx.const_value(node, c, 3)?;
        cx.push_dims(node, Op::Mul, vec![src, k], out)?;
        Ok(())
    }
}
