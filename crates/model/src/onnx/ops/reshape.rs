//! `Reshape`, `Squeeze` and `Unsqueeze`, read for one frame (the graph at batch 1, as the
//! shapes folded from `Shape` are): to [1, features] they become a `flatten` layer (as
//! exporters write a flatten before a linear layer), to any other shape a `reshape` layer (the
//! values in the same row-major order; the batch axis may move or merge, as attention code
//! does with heads). Honoured: 0 (copy the input's axis) and one -1 in a constant target
//! shape, `axes` as attribute or input. Refused: `allowzero` = 1, computed shapes.

use super::OnnxOp;
use crate::onnx::context::{frame, Ctx, Node};
use crate::onnx::OnnxError;
use crate::Op;

pub struct Reshape;

impl OnnxOp for Reshape {
    fn op_types(&self) -> &'static [&'static str] {
        &["Reshape", "Squeeze", "Unsqueeze"]
    }

    fn listed(&self) -> String {
        "Reshape, Squeeze, Unsqueeze".into()
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let x = cx.data(node, 0)?;
        let dims = cx.dims_of(&x);
        let f: usize = dims.iter().product();
        let out = match node.proto.op_type.as_str() {
            "Reshape" => target(cx, node, &dims)?,
            op => {
                let axes = cx.ints_arg(node, 1, "axes")?.unwrap_or_default();
                squeeze(op == "Squeeze", &dims, &axes).map_err(|m| node.err(m))?
            }
        };
        if out.iter().product::<usize>() != f {
            return Err(node.err(format!(
                "{} of one frame's {dims:?} ({f} values) to {out:?}",
                node.proto.op_type
            )));
        }
        let op = match out.as_slice() {
            [1, _] => Op::Flatten,
            _ => Op::Reshape { shape: frame(&out) },
        };
        cx.push_dims(node, op, vec![x], out)?;
        Ok(())
    }
}

/// The dims a Reshape's constant target names for one frame (the graph at batch 1): 0
/// copies the input's axis, one -1 takes what is left.
fn target(cx: &Ctx, node: &Node, dims: &[usize]) -> Result<Vec<usize>, OnnxError> {
    if node.int("allowzero", 0)? != 0 {
        return Err(node.err("allowzero = 1 is not supported".into()));
    }
    let s = cx.konst(node, 1, "shape")?;
    let ints = s.ints.clone().unwrap_or_default();
    let f: usize = dims.iter().product();
    let bad = |why: &str| node.err(format!("Reshape of {dims:?} to {ints:?}: {why}"));
    let mut out = Vec::with_capacity(ints.len());
    let mut infer = None;
    for (i, &d) in ints.iter().enumerate() {
        match d {
            0 => out.push(
                *dims
                    .get(i)
                    .ok_or_else(|| bad("0 copies an axis it lacks"))?,
            ),
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            d if d >= 1 => out.push(d as usize),
            _ => return Err(bad("only one -1 is allowed")),
        }
    }
    if let Some(i) = infer {
        let known: usize = out.iter().product();
        if known == 0 || !f.is_multiple_of(known) {
            return Err(bad("the -1 cannot be inferred"));
        }
        out[i] = f / known;
    }
    Ok(out)
}

/// The dims after removing (`squeeze`) or inserting 1-sized axes at `axes` (negative from the
/// end; Squeeze without axes removes every 1).
fn squeeze(squeeze: bool, dims: &[usize], axes: &[i64]) -> Result<Vec<usize>, String> {
    let out_rank = if squeeze {
        dims.len()
    } else {
        dims.len() + axes.len()
    } as i64;
    let norm: Vec<usize> = axes
        .iter()
        .map(|&a| {
            let n = if a < 0 { a + out_rank } else { a };
            if n < 0 || n >= out_rank {
                Err(format!("axes {axes:?}: out of range for rank {out_rank}"))
            } else {
                Ok(n as usize)
            }
        })
        .collect::<Result<_, _>>()?;
    if squeeze {
        if let Some(&d) = norm.iter().find(|&&d| dims[d] != 1) {
            return Err(format!(
                "axis {d} has size {}; only 1-sized axes squeeze",
                dims[d]
            ));
        }
        let drop = |d: usize| (norm.is_empty() && dims[d] == 1) || norm.contains(&d);
        Ok((0..dims.len())
            .filter(|&d| !drop(d))
            .map(|d| dims[d])
            .collect())
    } else {
        let mut out = Vec::new();
        let mut it = dims.iter();
        for d in 0..out_rank as usize {
            if norm.contains(&d) {
                out.push(1);
            } else {
                out.push(*it.next().ok_or("too many axes")?);
            }
        }
        Ok(out)
    }
}
