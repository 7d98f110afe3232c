//! `Reshape`, `Squeeze` and `Unsqueeze` that keep the batch first: to [batch, features] they
//! become a `flatten` layer (as exporters write a flatten before a linear layer), to any other
//! shape a `reshape` layer (the values in the same row-major order). Honoured: 0 (copy the
//! input's axis) and one -1 in a constant target shape, `axes` as attribute or input. Refused:
//! a shape that merges the batch with other axes, `allowzero` = 1, computed shapes.

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
        "Reshape, Squeeze, Unsqueeze (batch kept first)".into()
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let x = cx.data(node, 0)?;
        let dims = cx.dims_of(&x);
        let f: usize = dims.iter().product();
        let out = match node.proto.op_type.as_str() {
            "Reshape" => target(cx, node, &dims)?,
            op => {
                let axes = if node.has_input(1) {
                    cx.konst(node, 1, "axes")?.ints.clone().unwrap_or_default()
                } else {
                    node.ints("axes")?.unwrap_or_default()
                };
                squeeze(op == "Squeeze", &dims, &axes).map_err(|m| node.err(m))?
            }
        };
        if out.iter().product::<usize>() != f {
            return Err(node.err(format!(
                "{} to {out:?} with the batch first: the input's {dims:?} holds {f} values per \
                 frame",
                node.proto.op_type
            )));
        }
        let op = match out.len() {
            1 => Op::Flatten,
            _ => Op::Reshape { shape: frame(&out) },
        };
        cx.push_dims(node, op, vec![x], out)?;
        Ok(())
    }
}

/// The per-frame dims a Reshape's constant target names (its first entry the batch).
fn target(cx: &Ctx, node: &Node, dims: &[usize]) -> Result<Vec<usize>, OnnxError> {
    if node.int("allowzero", 0)? != 0 {
        return Err(node.err("allowzero = 1 is not supported".into()));
    }
    let s = cx.konst(node, 1, "shape")?;
    let ints = s.ints.clone().unwrap_or_default();
    let f: usize = dims.iter().product();
    let bad = |why: &str| {
        node.err(format!(
            "Reshape to {ints:?}: {why}; the batch must stay the first axis, unchanged (the \
             input is [N, {}])",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    };
    let Some((&b, rest)) = ints.split_first() else {
        return Err(bad("an empty shape"));
    };
    if !(-1..=1).contains(&b) {
        return Err(bad("the first entry is not the batch"));
    }
    let mut out = Vec::with_capacity(rest.len());
    let mut infer = None;
    for (i, &d) in rest.iter().enumerate() {
        match d {
            0 => out.push(
                *dims
                    .get(i)
                    .ok_or_else(|| bad("0 copies an axis it lacks"))?,
            ),
            -1 if infer.is_none() && b != -1 => {
                infer = Some(i);
                out.push(1);
            }
            d if d >= 1 => out.push(d as usize),
            _ => return Err(bad("only one -1, and none beside a -1 batch, is allowed")),
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

/// The dims after removing (`squeeze`) or inserting 1-sized axes at `axes` (ONNX axes,
/// negative from the end; Squeeze without axes removes every 1).
fn squeeze(squeeze: bool, dims: &[usize], axes: &[i64]) -> Result<Vec<usize>, String> {
    let out_rank = if squeeze {
        dims.len() + 1
    } else {
        dims.len() + 1 + axes.len()
    } as i64;
    let norm: Vec<usize> = axes
        .iter()
        .map(|&a| {
            let n = if a < 0 { a + out_rank } else { a };
            if n < 1 || n >= out_rank {
                Err(format!(
                    "axes {axes:?}: the batch axis 0 cannot be squeezed or inserted"
                ))
            } else {
                Ok(n as usize - 1)
            }
        })
        .collect::<Result<_, _>>()?;
    if squeeze {
        let drop = |d: usize| (norm.is_empty() && dims[d] == 1) || norm.contains(&d);
        if let Some(&d) = norm.iter().find(|&&d| dims[d] != 1) {
            return Err(format!(
                "axis {} has size {}; only 1-sized axes squeeze",
                d + 1,
                dims[d]
            ));
        }
        Ok((0..dims.len())
            .filter(|&d| !drop(d))
            .map(|d| dims[d])
            .collect())
    } else {
        let mut out = Vec::new();
        let mut it = dims.iter();
        for d in 0..(out_rank as usize - 1) {
            if norm.contains(&d) {
                out.push(1);
            } else {
                out.push(*it.next().ok_or("too many axes")?);
            }
        }
        Ok(out)
    }
}
