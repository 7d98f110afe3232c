//! `Transpose` becomes a `transpose` layer of one frame. Axes of size 1 (the batch among them)
//! move freely; runs of the other axes that stay next to each other move as one, so up to
//! three such runs fit [C, H, W]: a channel shuffle ([N, g, C/g, H, W] with axes 1 and 2
//! swapped), NCHW <-> NHWC, heads <-> tokens, K^T of attention, [L, N, E] <-> [N, L, E].
//! Refused: a permutation of more than three runs.

use super::OnnxOp;
use crate::onnx::context::{Ctx, Node};
use crate::onnx::OnnxError;
use crate::Op;

pub struct Transpose;

impl OnnxOp for Transpose {
    fn op_types(&self) -> &'static [&'static str] {
        &["Transpose"]
    }

    fn listed(&self) -> String {
        "Transpose (up to 3 moving groups of axes)".into()
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let x = cx.data(node, 0)?;
        let dims = cx.dims_of(&x);
        let n = dims.len();
        let perm = node
            .ints("perm")?
            .unwrap_or_else(|| (0..n as i64).rev().collect());
        let mut sorted = perm.clone();
        sorted.sort_unstable();
        if sorted != (0..n as i64).collect::<Vec<_>>() {
            return Err(node.err(format!("perm {perm:?}: a permutation of 0..{n}")));
        }
        // Axes of size 1 (the batch among them) go anywhere without moving a value; the rest,
        // renumbered, move in runs of axes that stay next to each other.
        let big: Vec<usize> = (0..n).filter(|&a| dims[a] != 1).collect();
        let p: Vec<usize> = perm
            .iter()
            .map(|&a| a as usize)
            .filter(|&a| dims[a] != 1)
            .map(|a| big.iter().position(|&b| b == a).expect("a big axis"))
            .collect();
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for &a in &p {
            match runs.last_mut() {
                Some((_, end)) if *end + 1 == a => *end = a,
                _ => runs.push((a, a)),
            }
        }
        if runs.len() > 3 {
            return Err(node.err(format!(
                "perm {perm:?} of {dims:?} moves {} separate groups of axes; at most 3 fit \
                 [C, H, W]",
                runs.len()
            )));
        }
        let mut by_input = runs.clone();
        by_input.sort_unstable();
        let lead = 3 - runs.len();
        let mut grouped = vec![1; lead];
        grouped.extend(
            by_input
                .iter()
                .map(|&(s, e)| (s..=e).map(|k| dims[big[k]]).product::<usize>()),
        );
        let grouped = [grouped[0], grouped[1], grouped[2]];
        let mut fperm = [0, 1, 2];
        for (i, r) in runs.iter().enumerate() {
            fperm[lead + i] = lead + by_input.iter().position(|b| b == r).expect("a run");
        }
        let src = if cx.shape_of(&x) == grouped {
            x
        } else {
            let j = cx.push_dims(
                node,
                Op::Reshape { shape: grouped },
                vec![x],
                grouped.to_vec(),
            )?;
            cx.layers[j].name.clone()
        };
        let out: Vec<usize> = perm.iter().map(|&a| dims[a as usize]).collect();
        cx.push_dims(node, Op::Transpose { perm: fperm }, vec![src], out)?;
        Ok(())
    }
}
