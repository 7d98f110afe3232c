//! `Transpose` that keeps the batch first becomes a `transpose` layer. Runs of axes that stay
//! next to each other move as one, so up to three such runs fit [C, H, W]: a channel shuffle
//! ([N, g, C/g, H, W] with axes 1 and 2 swapped), NCHW <-> NHWC, heads <-> tokens and K^T of
//! attention. Refused: moving the batch axis, a permutation of more than three runs.

use super::OnnxOp;
use crate::onnx::context::{frame, Ctx, Node};
use crate::onnx::OnnxError;
use crate::Op;

pub struct Transpose;

impl OnnxOp for Transpose {
    fn op_types(&self) -> &'static [&'static str] {
        &["Transpose"]
    }

    fn listed(&self) -> String {
        "Transpose (batch kept first)".into()
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let x = cx.data(node, 0)?;
        let dims = cx.dims_of(&x);
        let n = dims.len();
        let perm = node
            .ints("perm")?
            .unwrap_or_else(|| (0..=n as i64).rev().collect());
        let mut sorted = perm.clone();
        sorted.sort_unstable();
        if sorted != (0..=n as i64).collect::<Vec<_>>() || perm[0] != 0 {
            return Err(node.err(format!(
                "perm {perm:?}: a permutation of 0..{n} that keeps the batch axis 0 first"
            )));
        }
        let p: Vec<usize> = perm[1..].iter().map(|&a| a as usize - 1).collect();
        // Runs of input axes that stay consecutive, in output order.
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for &a in &p {
            match runs.last_mut() {
                Some((_, end)) if *end + 1 == a => *end = a,
                _ => runs.push((a, a)),
            }
        }
        if runs.len() > 3 {
            return Err(node.err(format!(
                "perm {perm:?} moves {} separate groups of axes; at most 3 fit [C, H, W]",
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
                .map(|&(s, e)| dims[s..=e].iter().product::<usize>()),
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
        let out: Vec<usize> = p.iter().map(|&a| dims[a]).collect();
        debug_assert_eq!(
            frame(&out).iter().product::<usize>(),
            grouped.iter().product::<usize>()
        );
        cx.push_dims(node, Op::Transpose { perm: fperm }, vec![src], out)?;
        Ok(())
    }
}
