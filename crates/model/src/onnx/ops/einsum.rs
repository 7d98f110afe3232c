//! `Einsum` of two computed tensors written as a batched matrix product (MaxViT's attention:
//! `BGHID,BGHJD->BGHIJ` for Q.K^T, `BGHIJ,BGHJD->BGHID` for A.V) becomes what `MatMul` of the
//! same product becomes, after a `transpose` of an operand's last two axes where the equation
//! contracts the other one. The equation: both operands and the output start with the same
//! batch letters in the same order, then two letters each, the first operand's two holding
//! the output's row letter and the contracted one, the second's the contracted one and the
//! output's column letter. Refused: any other equation (named in the error), constants.

use super::matmul::product;
use super::transpose::permute;
use super::OnnxOp;
use crate::onnx::context::{Ctx, Node};
use crate::onnx::OnnxError;

pub struct Einsum;

impl OnnxOp for Einsum {
    fn op_types(&self) -> &'static [&'static str] {
        &["Einsum"]
    }

    fn listed(&self) -> String {
        "Einsum (batched matrix products)".into()
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let eq = node.string("equation", "")?;
        let refuse = |why: &str| {
            node.err(format!(
                "equation `{eq}`: {why}; supported are batched matrix products of two \
                 operands, such as `bhik,bhkj->bhij` or `bhid,bhjd->bhij`"
            ))
        };
        let letters = |t: &str| -> Vec<char> { t.chars().filter(|c| !c.is_whitespace()).collect() };
        let (lhs, rhs) = eq
            .split_once("->")
            .ok_or_else(|| refuse("no `->` output"))?;
        let ops: Vec<Vec<char>> = lhs.split(',').map(letters).collect();
        let out = letters(rhs);
        if ops.len() != 2 || node.proto.input.len() != 2 {
            return Err(refuse("two operands are needed"));
        }
        let (a, b) = (&ops[0], &ops[1]);
        let valid = |v: &[char]| v.iter().all(|c| c.is_ascii_alphabetic());
        if !valid(a) || !valid(b) || !valid(&out) {
            return Err(refuse("only letters (no ellipsis)"));
        }
        // A letter twice in the output takes a diagonal, which no product computes.
        if out.iter().enumerate().any(|(n, c)| out[..n].contains(c)) {
            return Err(refuse("a letter repeats in the output"));
        }
        let r = out.len();
        if r < 2 || a.len() != r || b.len() != r {
            return Err(refuse(
                "each operand needs as many axes as the output, at least two",
            ));
        }
        if a[..r - 2] != out[..r - 2] || b[..r - 2] != out[..r - 2] {
            return Err(refuse(
                "the operands must hold the output's batch letters first",
            ));
        }
        let (i, j) = (out[r - 2], out[r - 1]);
        let (a2, b2) = ([a[r - 2], a[r - 1]], [b[r - 2], b[r - 1]]);
        // The contracted letter: the first operand's letter that is not the output's row.
        let k = if a2[0] == i { a2[1] } else { a2[0] };
        let x_ok = a2 == [i, k] || a2 == [k, i];
        let y_ok = b2 == [k, j] || b2 == [j, k];
        if !x_ok || !y_ok || k == i || k == j || out[..r - 2].contains(&k) {
            return Err(refuse("it is not a matrix product over the last two axes"));
        }
        let swap: Vec<usize> = (0..r - 2).chain([r - 1, r - 2]).collect();
        let mut x = cx.data(node, 0)?;
        let mut y = cx.data(node, 1)?;
        if a2 == [k, i] {
            x = permute(cx, node, x, &swap)?;
        }
        if b2 == [j, k] {
            y = permute(cx, node, y, &swap)?;
        }
        product(cx, node, x, y)
    }
}
