//! `Mul`, `Div` and `Sub`. Of two computed tensors: `mul` and `div` layers, broadcasting each
//! axis that is 1 in one operand (an excitation gate [N, C, 1, 1] times its feature map); a
//! Sub becomes an `affine` (-1 times) and an `add`. With a scalar constant (one value): an
//! `affine` layer alpha * x + beta (x * c, x / c as x * (1 / c), x - c, c - x); with a
//! constant of more values, a `const` layer and the product (a layer scale). Refused: a
//! scalar constant divided by a computed tensor, both operands constant (folded instead).

use super::OnnxOp;
use crate::onnx::context::{frame, per_frame, Ctx, Node, Val};
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
                        if cx.shape_of(&a) != cx.shape_of(&nb) {
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

/// The two operands held so that [C, H, W] broadcasting is ONNX's (trailing axes aligned,
/// 1s broadcast): each reshaped, where needed, to the result's [C, H, W] with 1 in the parts
/// it broadcasts over; and the result's dims.
fn broadcast(
    cx: &mut Ctx,
    node: &Node,
    a: String,
    b: String,
) -> Result<(String, String, Vec<usize>), OnnxError> {
    let (da, db) = (cx.dims_of(&a), cx.dims_of(&b));
    let n = da.len().max(db.len());
    let lift = |d: &[usize]| [vec![1; n - d.len()], d.to_vec()].concat();
    let (la, lb) = (lift(&da), lift(&db));
    let mut out = Vec::with_capacity(n);
    for (x, y) in la.iter().zip(&lb) {
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
    // Which [C, H, W] axis holds each ONNX axis of the result (see `frame`).
    let fo = frame(&out);
    let (d, off) = per_frame(&out);
    let mut group = vec![0usize; n];
    for (k, g) in group.iter_mut().enumerate().skip(off) {
        let i = k - off;
        *g = match d.len() {
            1 => 0,
            2 => i + 1,
            _ => i.min(2),
        };
    }
    let mut held = Vec::with_capacity(2);
    for (name, l) in [(a, la), (b, lb)] {
        let mut s = fo;
        for (g, sg) in s.iter_mut().enumerate() {
            let axes: Vec<usize> = (0..n).filter(|&k| group[k] == g && out[k] != 1).collect();
            let full = axes.iter().all(|&k| l[k] == out[k]);
            let none = axes.iter().all(|&k| l[k] == 1);
            *sg = match (full, none) {
                (true, _) => fo[g],
                (false, true) => 1,
                _ => {
                    return Err(node.err(format!(
                        "shapes {da:?} and {db:?}: a broadcast over part of the axes held \
                         merged is not supported"
                    )))
                }
            };
        }
        held.push(if cx.shape_of(&name) == s {
            name
        } else {
            let j = cx.push_dims(node, Op::Reshape { shape: s }, vec![name], s.to_vec())?;
            cx.layers[j].name.clone()
        });
    }
    let b = held.pop().expect("two");
    let a = held.pop().expect("two");
    Ok((a, b, out))
}
