//! Walking a network in order: each layer with its inputs resolved (by index) and the shapes
//! it reads and writes. Shape inference, the maths every interpreter relies on, lives here:
//!
//! - conv: `[Cout, (H + 2p - d(k-1) - 1) / s + 1, (W + ...) / s + 1]`, groups dividing Cin and Cout
//! - linear, flatten: `[n, 1, 1]` (linear reads its input flattened)
//! - bn, relu: the input's shape; add: inputs of one shape; concat: channels add up, one H x W
//! - max/avg pool: the conv rule with dilation 1; gap: `[C, 1, 1]`; upsample: H and W times the scale
//! - dense: `[C, H, out]`; matmul: `[C, H, K] x [C or 1, K, N] -> [C, H, N]`
//! - activations, layernorm, softmax: the input's shape; mul, div: each axis equal or 1 (broadcast)
//! - pad: H and W grown; reducemean: reduced axes become 1; transpose, reshape, slice, concat
//!   on an axis, const: as their fields say

use super::{LayerDesc, ModelDesc, ModelError, Op, Src};

/// One layer as an interpreter sees it.
#[derive(Debug, Clone)]
pub struct Step<'a> {
    /// Index into `ModelDesc::layers`.
    pub index: usize,
    pub layer: &'a LayerDesc,
    /// Where each input comes from, in the description's order.
    pub inputs: Vec<Src>,
    /// [C, H, W] of each input.
    pub in_shapes: Vec<[usize; 3]>,
    /// [C, H, W] of the output.
    pub out: [usize; 3],
}

impl Step<'_> {
    /// Shape of the first input (the one every single-input op reads).
    pub fn input(&self) -> [usize; 3] {
        self.in_shapes[0]
    }

    pub fn op(&self) -> &Op {
        &self.layer.op
    }
}

/// (H + 2p - d(k-1) - 1) / s + 1, or None when the (dilated) kernel exceeds the padded input.
fn out_len(len: usize, k: usize, s: usize, p: usize, d: usize) -> Option<usize> {
    let span = d * (k - 1) + 1;
    let padded = len + 2 * p;
    (span <= padded).then(|| (padded - span) / s + 1)
}

impl ModelDesc {
    /// Every layer in order with its inputs resolved and its input and output shapes; errors
    /// name the layer whose input does not fit it. The one place that resolves a layer's
    /// inputs and infers its shape: every interpreter (shapes, parameters, matrices, the
    /// trainer, the crossbar runner, the mapper) walks this.
    pub fn walk(&self) -> Result<Vec<Step<'_>>, ModelError> {
        let mut steps: Vec<Step<'_>> = Vec::with_capacity(self.layers.len());
        for (index, l) in self.layers.iter().enumerate() {
            let err = |field: &str, msg: String| ModelError::new(&self.source, &l.name, field, msg);
            let (inputs, ins): (Vec<Src>, Vec<[usize; 3]>) = l
                .inputs
                .iter()
                .map(|n| match n.as_str() {
                    "input" => Ok((Src::Input, self.input)),
                    _ => self
                        .index_of(n)
                        .filter(|&i| i < steps.len())
                        .map(|i| (Src::Layer(i), steps[i].out))
                        .ok_or_else(|| {
                            err(
                                "inputs",
                                format!(
                                    "unknown input `{n}`: allowed are `input` and earlier layers"
                                ),
                            )
                        }),
                })
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .unzip();
            let [c, h, w] = ins[0];
            let s = match &l.op {
                Op::Conv {
                    out_channels,
                    kernel,
                    stride,
                    padding,
                    dilation,
                    groups,
                    ..
                } => {
                    if c % groups != 0 || out_channels % groups != 0 {
                        return Err(err("groups", format!("{groups} must divide the input channels ({c}) and out_channels ({out_channels})")));
                    }
                    let oh = out_len(h, kernel[0], *stride, *padding, *dilation);
                    let ow = out_len(w, kernel[1], *stride, *padding, *dilation);
                    match (oh, ow) {
                        (Some(oh), Some(ow)) => [*out_channels, oh, ow],
                        _ => return Err(err("kernel", format!("{kernel:?} (dilation {dilation}) is larger than the padded input {h}x{w} (padding {padding})"))),
                    }
                }
                Op::Linear { out_features, .. } => [*out_features, 1, 1],
                Op::BatchNorm | Op::Relu | Op::Relu6 => [c, h, w],
                Op::MaxPool {
                    kernel,
                    stride,
                    padding,
                }
                | Op::AvgPool {
                    kernel,
                    stride,
                    padding,
                } => {
                    match (out_len(h, *kernel, *stride, *padding, 1), out_len(w, *kernel, *stride, *padding, 1)) {
                        (Some(oh), Some(ow)) => [c, oh, ow],
                        _ => return Err(err("kernel", format!("{kernel} is larger than the padded input {h}x{w} (padding {padding})"))),
                    }
                }
                Op::GlobalAvgPool => [c, 1, 1],
                Op::Add => {
                    if let Some((n, s)) = l.inputs.iter().zip(&ins).find(|(_, s)| **s != ins[0]) {
                        return Err(err(
                            "inputs",
                            format!(
                                "add needs inputs of one shape: `{}` is {:?} but `{n}` is {s:?}",
                                l.inputs[0], ins[0]
                            ),
                        ));
                    }
                    ins[0]
                }
                Op::Concat => {
                    if let Some((n, s)) = l
                        .inputs
                        .iter()
                        .zip(&ins)
                        .find(|(_, s)| s[1..] != ins[0][1..])
                    {
                        return Err(err(
                            "inputs",
                            format!(
                                "concat needs inputs of one H x W: `{}` is {:?} but `{n}` is {s:?}",
                                l.inputs[0], ins[0]
                            ),
                        ));
                    }
                    [ins.iter().map(|s| s[0]).sum(), h, w]
                }
                Op::Upsample { scale } => [c, h * scale, w * scale],
                Op::Flatten => [c * h * w, 1, 1],
                Op::ConcatAxis { axis } => {
                    let axis = *axis;
                    if axis > 2 {
                        return Err(err("axis", format!("{axis}: allowed 0 (C), 1 (H), 2 (W)")));
                    }
                    let mut o = ins[0];
                    for (n, s) in l.inputs.iter().zip(&ins).skip(1) {
                        if (0..3).any(|a| a != axis && s[a] != ins[0][a]) {
                            return Err(err(
                                "inputs",
                                format!(
                                    "concat on axis {axis} needs the other axes equal: `{}` is \
                                     {:?} but `{n}` is {s:?}",
                                    l.inputs[0], ins[0]
                                ),
                            ));
                        }
                        o[axis] += s[axis];
                    }
                    o
                }
                Op::Dense { out_features, .. } => [c, h, *out_features],
                Op::MatMul => {
                    let [c2, k2, n] = ins[1];
                    if k2 != w || !(c2 == c || c2 == 1) {
                        return Err(err(
                            "inputs",
                            format!(
                                "matmul of {:?} by {:?}: needs [C, H, K] x [C or 1, K, N]",
                                ins[0], ins[1]
                            ),
                        ));
                    }
                    [c, h, n]
                }
                Op::Act(_) => [c, h, w],
                Op::Mul | Op::Div => {
                    let b = ins[1];
                    let mut o = [0; 3];
                    for a in 0..3 {
                        o[a] = match (ins[0][a], b[a]) {
                            (x, y) if x == y => x,
                            (1, y) => y,
                            (x, 1) => x,
                            _ => {
                                return Err(err(
                                    "inputs",
                                    format!(
                                        "{} of {:?} and {b:?}: each axis must be equal or 1",
                                        l.op.kind(),
                                        ins[0]
                                    ),
                                ))
                            }
                        };
                    }
                    o
                }
                Op::Pad { pads, .. } => [c, h + pads[0] + pads[2], w + pads[1] + pads[3]],
                Op::ReduceMean { axes } => {
                    let mut o = ins[0];
                    for a in 0..3 {
                        if axes[a] {
                            o[a] = 1;
                        }
                    }
                    o
                }
                Op::Softmax { axis } => {
                    if *axis > 2 {
                        return Err(err("axis", format!("{axis}: allowed 0 (C), 1 (H), 2 (W)")));
                    }
                    [c, h, w]
                }
                Op::LayerNorm { .. } => [c, h, w],
                Op::Transpose { perm } => {
                    let mut sorted = *perm;
                    sorted.sort_unstable();
                    if sorted != [0, 1, 2] {
                        return Err(err("perm", format!("{perm:?}: a permutation of 0, 1, 2")));
                    }
                    [ins[0][perm[0]], ins[0][perm[1]], ins[0][perm[2]]]
                }
                Op::Const { shape } => *shape,
                Op::Reshape { shape } => {
                    if shape.iter().product::<usize>() != c * h * w {
                        return Err(err(
                            "shape",
                            format!(
                                "{shape:?} holds {} values; the input {:?} holds {}",
                                shape.iter().product::<usize>(),
                                ins[0],
                                c * h * w
                            ),
                        ));
                    }
                    *shape
                }
                Op::Slice {
                    axis,
                    start,
                    end,
                    step,
                } => {
                    let (axis, start, end, step) = (*axis, *start, *end, *step);
                    if axis > 2 || step == 0 || start >= end || end > ins[0][axis] {
                        return Err(err(
                            "axis",
                            format!(
                                "slice {start}..{end} step {step} of axis {axis} of {:?}: the \
                                 axis must be 0..=2, step >= 1 and start < end <= its size",
                                ins[0]
                            ),
                        ));
                    }
                    let mut o = ins[0];
                    o[axis] = (end - start).div_ceil(step);
                    o
                }
            };
            steps.push(Step {
                index,
                layer: l,
                inputs,
                in_shapes: ins,
                out: s,
            });
        }
        Ok(steps)
    }
}
