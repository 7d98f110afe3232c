//! Shape inference, parameter counts and the matrices conv/linear layers put on crossbars.

use super::{ModelDesc, ModelError, Op};

/// The weight matrix of one conv/linear layer as crossbars see it (im2col).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerMatrix {
    /// Index into `ModelDesc::layers`.
    pub layer: usize,
    pub name: String,
    /// Inputs per output: Cin/groups * kh * kw (linear: C*H*W of its input).
    pub k: usize,
    /// Outputs of one group's matrix: Cout/groups (linear: out_features).
    pub n: usize,
    /// Independent K x N matrices (a grouped conv maps as `groups` separate matrices).
    pub groups: usize,
    /// Input vectors per frame: H_out * W_out of a conv, 1 for a linear layer.
    pub vectors: usize,
}

impl LayerMatrix {
    /// Multiply-accumulates per frame.
    pub fn macs(&self) -> u64 {
        (self.k * self.n * self.groups * self.vectors) as u64
    }
}

/// (H + 2p - d(k-1) - 1) / s + 1, or None when the (dilated) kernel exceeds the padded input.
fn out_len(len: usize, k: usize, s: usize, p: usize, d: usize) -> Option<usize> {
    let span = d * (k - 1) + 1;
    let padded = len + 2 * p;
    (span <= padded).then(|| (padded - span) / s + 1)
}

impl ModelDesc {
    /// Output [C, H, W] of every layer (linear and flatten give [n, 1, 1]); errors name the
    /// layer whose input does not fit it.
    pub fn shapes(&self) -> Result<Vec<[usize; 3]>, ModelError> {
        let mut out: Vec<[usize; 3]> = Vec::with_capacity(self.layers.len());
        for l in &self.layers {
            let err = |field: &str, msg: String| ModelError::new(&self.source, &l.name, field, msg);
            let ins: Vec<[usize; 3]> = l
                .inputs
                .iter()
                .map(|n| match n.as_str() {
                    "input" => Ok(self.input),
                    _ => self
                        .index_of(n)
                        .filter(|&i| i < out.len())
                        .map(|i| out[i])
                        .ok_or_else(|| {
                            err(
                                "inputs",
                                format!(
                                    "unknown input `{n}`: allowed are `input` and earlier layers"
                                ),
                            )
                        }),
                })
                .collect::<Result<_, _>>()?;
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
            };
            out.push(s);
        }
        Ok(out)
    }

    /// Input [C, H, W] of a layer's first input, given all output shapes.
    fn input_shape(&self, shapes: &[[usize; 3]], layer: usize) -> [usize; 3] {
        match self.layers[layer].inputs[0].as_str() {
            "input" => self.input,
            n => shapes[self.index_of(n).expect("resolved at parse")],
        }
    }

    /// Trainable parameters: conv/linear weights and biases, batch-norm gamma and beta (as
    /// published counts do; running statistics are not parameters).
    pub fn params(&self) -> Result<u64, ModelError> {
        let shapes = self.shapes()?;
        let mut total = 0u64;
        for (i, l) in self.layers.iter().enumerate() {
            let [c, h, w] = self.input_shape(&shapes, i);
            total += match &l.op {
                Op::Conv {
                    out_channels,
                    kernel,
                    groups,
                    bias,
                    ..
                } => {
                    (out_channels * c / groups * kernel[0] * kernel[1]
                        + if *bias { *out_channels } else { 0 }) as u64
                }
                Op::Linear { out_features, bias } => {
                    (c * h * w * out_features + if *bias { *out_features } else { 0 }) as u64
                }
                Op::BatchNorm => 2 * c as u64,
                _ => 0,
            };
        }
        Ok(total)
    }

    /// The K x N matrix and vectors per frame of every conv/linear layer, in layer order.
    pub fn matrices(&self) -> Result<Vec<LayerMatrix>, ModelError> {
        let shapes = self.shapes()?;
        let mut v = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            let [c, h, w] = self.input_shape(&shapes, i);
            let m = match &l.op {
                Op::Conv {
                    out_channels,
                    kernel,
                    groups,
                    ..
                } => LayerMatrix {
                    layer: i,
                    name: l.name.clone(),
                    k: c / groups * kernel[0] * kernel[1],
                    n: out_channels / groups,
                    groups: *groups,
                    vectors: shapes[i][1] * shapes[i][2],
                },
                Op::Linear { out_features, .. } => LayerMatrix {
                    layer: i,
                    name: l.name.clone(),
                    k: c * h * w,
                    n: *out_features,
                    groups: 1,
                    vectors: 1,
                },
                _ => continue,
            };
            v.push(m);
        }
        Ok(v)
    }
}
