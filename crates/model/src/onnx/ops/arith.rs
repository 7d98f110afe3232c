//! `Mul`, `Div` and `Sub`. Of two computed tensors: `mul` and `div` layers, broadcasting each
//! axis that is 1 in one operand (an excitation gate [N, C, 1, 1] times its feature map); a
//! Sub becomes an `affine` (-1 times) and an `add`. With a scalar constant (one value): an
//! `affine` layer alpha * x + beta (x * c, x / c as x * (1 / c), x - c, c - x); with a
//! constant of more values, a `const` layer and the product (a layer scale). Refused: a
//! scalar constant divided by a computed tensor, both operands constant (folded instead).

use super::OnnxOp;
use crate::onnx::context::{frame, Ctx, Node, Val};
use crate::onnx::OnnxError;
use crate::{Act, Op};

pub struct Arith;

impl OnnxOp for Arith {
    fn op_types(&self) -> &'static [&'static str] {
        &["Mul", "Div", "Sub"]
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let op = node.proto.op_type.as_str();
        let is_const = |k: usize| matches!(cx.lookup(node, k), Ok(Val::Const(_)));
        let scalar = |k: usize| matches!(cx.lookup(node, k), Ok(Val::Const(c)) if c.f.len() == 1);
        let (c0, c1) = (is_const(0), is_const(1));
        match (c0, c1) {
            (true, true) => {
                return Err(node.err(
                    "both operands are constants: fold them before export (constant folding)"
                        .into(),
                ))
            }
            _ if !(c0 && scalar(0) || c1 && scalar(1)) => {
                let operand = |cx: &mut Ctx, k: usize| -> Result<String, OnnxError> {
                    if matches!(cx.lookup(node, k)?, Val::Const(_)) {
                        let other = cx.data(node, 1 - k)?;
                        let rank = cx.dims_of(&other).len();
                        cx.const_layer(node, k, rank)
                    } else {
                        cx.data(node, k)
                    }
                };
                let a = operand(cx, 0)?;
                let b = operand(cx, 1)?;
                let (a, b, dims) = broadcast(cx, node, a, b)?;
                match op {
                    "Mul" => cx.push_dims(node, Op::Mul, vec![a, b], dims)?,
                    "Div" => cx.push_dims(node, Op::Div, vec![a, b], dims)?,
                    _ => {
                        let j = cx.push(node, affine(-1.0, 0.0), vec![b])?;
                        let nb = cx.layers[j].name.clone();
                        if cx.dims_of(&a) != cx.dims_of(&nb) {
                            return Err(node.err(format!(
                                "Sub of shapes {:?} and {:?}: only equal shapes are supported",
                                cx.dims_of(&a),
                                cx.dims_of(&nb)
                            )));
                        }
                        cx.push_dims(node, Op::Add, vec![a, nb], dims)?
                    }
                };
            }
            _ => {
                // The constant's position: 0 (c op x) or 1 (x op c).
                let k = if c0 { 0 } else { 1 };
                let c = cx.konst(node, k, "operand")?;
                let Some(&v) = c.f.first().filter(|_| c.f.len() == 1) else {
                    return Err(node.err(format!(
                        "constant operand of shape {:?}: only a scalar (one value) is supported \
                         with a computed tensor",
                        c.dims
                    )));
                };
                let f = match (op, c0) {
                    ("Mul", _) => affine(v, 0.0),
                    ("Div", false) => affine(1.0 / v, 0.0),
                    ("Sub", false) => affine(1.0, -v),
                    ("Sub", true) => affine(-1.0, v),
                    _ => {
                        return Err(node.err(
                            "a constant divided by a computed tensor is not supported".into(),
                        ))
                    }
                };
                let x = cx.data(node, 1 - k)?;
                cx.push(node, f, vec![x])?;
            }
        }
        Ok(())
    }
}

fn affine(alpha: f32, beta: f32) -> Op {
    Op::Act(Act::Affine { alpha, beta })
}

/// The two operands at one ONNX rank (the lower-rank one reshaped with leading 1s, as ONNX
/// broadcasting aligns trailing axes) and the broadcast result's dims.
fn broadcast(
    cx: &mut Ctx,
    node: &Node,
    a: String,
    b: String,
) -> Result<(String, String, Vec<usize>), OnnxError> {
    let (da, db) = (cx.dims_of(&a), cx.dims_of(&b));
    let n = da.len().max(db.len());
    let mut lift = |x: String, d: Vec<usize>| -> Result<(String, Vec<usize>), OnnxError> {
        if d.len() == n {
            return Ok((x, d));
        }
        let mut full = vec![1; n - d.len()];
        full.extend(&d);
        let j = cx.push_dims(
            node,
            Op::Reshape {
                shape: frame(&full),
            },
            vec![x],
            full.clone(),
        )?;
        Ok((cx.layers[j].name.clone(), full))
    };
    let (a, da) = lift(a, da)?;
    let (b, db) = lift(b, db)?;
    if n > 3 {
        return Err(node.err(format!(
            "operands of rank {}: element-wise products are supported up to rank 4",
            n + 1
        )));
    }
    let mut out = Vec::with_capacity(n);
    for (x, y) in da.iter().zip(&db) {
        out.push(match (*x, *y) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(node.err(format!(
                    "shapes {da:?} and {db:?} do not broadcast (each axis equal or 1)"
                )))
            }
        });
    }
    Ok((a, b, out))
}
