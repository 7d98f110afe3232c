//! `Transpose` becomes `transpose` layers of one frame. Axes of size 1 (the batch among them)
//! move freely; runs of the other axes that stay next to each other move as one, so up to
//! three such runs fit [C, H, W] in one layer: a channel shuffle ([N, g, C/g, H, W] with axes
//! 1 and 2 swapped), NCHW <-> NHWC, heads <-> tokens, K^T of attention, [L, N, E] <-> [N, L, E].
//! More runs (Swin's window partition [N, H/7, 7, W/7, 7, C] -> [N, H/7, W/7, 7, 7, C], its
//! heads split from a fused projection) take several layers: each puts the next axis of the
//! output in place by rotating the axes after the ones already placed, a permutation of at
//! most three runs.

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
        "Transpose".into()
    }

    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
        let x = cx.data(node, 0)?;
        let n = cx.dims_of(&x).len();
        let perm = node
            .ints("perm")?
            .unwrap_or_else(|| (0..n as i64).rev().collect());
        let mut sorted = perm.clone();
        sorted.sort_unstable();
        if sorted != (0..n as i64).collect::<Vec<_>>() {
            return Err(node.err(format!("perm {perm:?}: a permutation of 0..{n}")));
        }
        let perm: Vec<usize> = perm.iter().map(|&a| a as usize).collect();
        permute(cx, node, x, &perm)?;
        Ok(())
    }
}

/// `x` with its ONNX axes permuted by `perm` (output axis i is input axis perm[i]), as one
/// `transpose` layer or several; returns the last layer's name.
pub(super) fn permute(
    cx: &mut Ctx,
    node: &Node,
    x: String,
    perm: &[usize],
) -> Result<String, OnnxError> {
    let dims = cx.dims_of(&x);
    let out: Vec<usize> = perm.iter().map(|&a| dims[a]).collect();
    let (big, p) = big_axes(&dims, perm);
    if runs_of(&p).len() <= 3 {
        return step(cx, node, x, &dims, perm, out);
    }
    // Axis by axis of the output: the big axes in their current order, and a rotation
    // [placed, cur[i..j], cur[j..]] -> [placed, cur[j..], cur[i..j]] that brings the next
    // wanted axis (at j) to position i.
    let sizes: Vec<usize> = big.iter().map(|&a| dims[a]).collect();
    let mut cur: Vec<usize> = (0..p.len()).collect();
    let mut src = x;
    for i in 0..p.len() {
        let j = cur.iter().position(|&a| a == p[i]).expect("a permutation");
        if j == i {
            continue;
        }
        let rot: Vec<usize> = (0..i).chain(j..cur.len()).chain(i..j).collect();
        let next: Vec<usize> = rot.iter().map(|&k| cur[k]).collect();
        let last = next == p;
        let step_out = if last {
            out.clone()
        } else {
            next.iter().map(|&a| sizes[a]).collect()
        };
        // Only the big axes are named (size-1 axes hold no values to move).
        let in_big: Vec<usize> = cur.iter().map(|&a| sizes[a]).collect();
        src = step(cx, node, src, &in_big, &rot, step_out)?;
        cur = next;
        if last {
            break;
        }
    }
    Ok(src)
}

/// The axes of `dims` that are not 1, and `perm` over them renumbered: axes of size 1 (the
/// batch among them) go anywhere without moving a value, so only the others are permuted.
fn big_axes(dims: &[usize], perm: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let big: Vec<usize> = (0..dims.len()).filter(|&a| dims[a] != 1).collect();
    let p = perm
        .iter()
        .copied()
        .filter(|&a| dims[a] != 1)
        .map(|a| big.iter().position(|&b| b == a).expect("a big axis"))
        .collect();
    (big, p)
}

/// Runs of consecutive axes in `p` (a permutation of the big axes).
fn runs_of(p: &[usize]) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &a in p {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == a => *end = a,
            _ => runs.push((a, a)),
        }
    }
    runs
}

/// One `transpose` layer (after a `reshape` grouping the runs, where needed): `x`, of ONNX
/// `dims`, permuted by `perm` (at most three runs of axes that are not 1), recorded with the
/// ONNX dims `out`; returns the layer's name.
fn step(
    cx: &mut Ctx,
    node: &Node,
    x: String,
    dims: &[usize],
    perm: &[usize],
    out: Vec<usize>,
) -> Result<String, OnnxError> {
    let (big, p) = big_axes(dims, perm);
    let runs = runs_of(&p);
    debug_assert!(runs.len() <= 3, "at most three runs per step");
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
    let src = cx.laid_out(node, x, grouped)?;
    let j = cx.push_dims(node, Op::Transpose { perm: fperm }, vec![src], out)?;
    Ok(cx.layers[j].name.clone())
}
