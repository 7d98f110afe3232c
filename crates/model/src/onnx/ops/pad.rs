//! `Pad` (constant mode) becomes nothing where every amount is 0 (Swin pads its token grid to
//! whole windows, by 0 when the grid already fits), and otherwise, axis by axis, a `concat` of
//! `const` layers holding the pad value before and after the tensor along the [C, H, W] axis
//! that holds the ONNX axis. Refused: modes other than constant, negative amounts (crops), the
//! batch axis, an axis merged past the third.

use super::OnnxOp;
use crate::onnx::context::{count_within, frame_axis, Ctx, Node, Val};
use crate::onnx::proto::Const;
use crate::onnx::OnnxError;
use crate::Op;

pub struct Pad;

impl OnnxOp for Pad {
    fn op_types(&self) -> &'static [&'static str] {
        &["Pad"]
    }

    fn listed(&self) -> String {
        "Pad (constant mode)".into()
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let mode = node.string("mode", "constant")?;
        if mode != "constant" {
            return Err(node.err(format!(
                "mode `{mode}`: only `constant` padding is supported"
            )));
        }
        let x = cx.data(node, 0)?;
        let dims = cx.dims_of(&x);
        let r = dims.len();
        // Opset 11+: pads (and the value, the axes) are inputs; before it, attributes.
        let pads: Vec<i64> = cx.ints_arg(node, 1, "pads")?.unwrap_or_default();
        let value = if node.has_input(2) {
            let c = cx.konst(node, 2, "constant_value")?;
            *c.f.first().unwrap_or(&0.0)
        } else {
            node.float("value")?.unwrap_or(0.0)
        };
        let axes: Vec<usize> = if let Some(a) = cx.ints_arg(node, 3, "axes")? {
            a.iter()
                .map(|&a| crate::onnx::context::onnx_axis(&dims, a))
                .collect::<Result<_, _>>()
                .map_err(|m| node.err(m))?
        } else {
            (0..r).collect()
        };
        if pads.len() != 2 * axes.len() {
            return Err(node.err(format!(
                "pads {pads:?}: {} values are needed (a begin and an end for each of {} axes)",
                2 * axes.len(),
                axes.len()
            )));
        }
        if let Some(p) = pads.iter().find(|&&p| p < 0) {
            return Err(node.err(format!(
                "pads {pads:?}: amount {p} is negative (a crop); only padding is supported"
            )));
        }
        let padded: Option<Vec<usize>> = (0..r)
            .map(|a| match axes.iter().position(|&x| x == a) {
                Some(i) => dims[a]
                    .checked_add(usize::try_from(pads[i]).ok()?)?
                    .checked_add(usize::try_from(pads[axes.len() + i]).ok()?),
                None => Some(dims[a]),
            })
            .collect();
        if padded.as_deref().and_then(count_within).is_none() {
            return Err(node.err(format!(
                "pads {pads:?}: the padded tensor would hold more than 2^31 values"
            )));
        }
        let mut seen = axes.clone();
        seen.sort_unstable();
        seen.dedup();
        if seen.len() != axes.len() {
            return Err(node.err(format!("axes {axes:?}: an axis repeats")));
        }
        if pads.iter().all(|&p| p == 0) {
            let v: Val = cx.lookup(node, 0)?.clone();
            cx.bind(node, v);
            return Ok(());
        }
        let n = axes.len();
        let mut cur = x;
        let mut cur_dims = dims;
        for (i, &a) in axes.iter().enumerate() {
            let (before, after) = (pads[i] as usize, pads[n + i] as usize);
            if before == 0 && after == 0 {
                continue;
            }
            let fa = frame_axis(&cur_dims, a as i64).map_err(|m| node.err(m))?;
            let mut parts = Vec::new();
            let mut out = cur_dims.clone();
            for (amount, at_end) in [(before, false), (after, true)] {
                if amount == 0 {
                    continue;
                }
                let mut d = cur_dims.clone();
                d[a] = amount;
                let len = d.iter().product();
                let c = Const {
                    dims: d,
                    f: vec![value; len],
                    ints: None,
                };
                let k = cx.const_value(node, c, r)?;
                parts.push((at_end, k));
                out[a] += amount;
            }
            let mut ins: Vec<String> = parts
                .iter()
                .filter(|(e, _)| !e)
                .map(|(_, k)| k.clone())
                .collect();
            ins.push(cur.clone());
            ins.extend(parts.iter().filter(|(e, _)| *e).map(|(_, k)| k.clone()));
            let op = match fa {
                0 => Op::Concat,
                axis => Op::ConcatAxis { axis },
            };
            let j = cx.push_dims(node, op, ins, out.clone())?;
            cur = cx.layers[j].name.clone();
            cur_dims = out;
        }
        Ok(())
    }
}
