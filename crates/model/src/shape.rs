//! Shape inference, parameter counts and the matrices conv/linear layers put on crossbars.

use super::{ModelDesc, ModelError, Op};

/// The weight matrix of one conv/linear layer as crossbars see it (im2col).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerMatrix {
    /// Index into `ModelDesc::layers`.
    pub layer: usize,
    pub name: String,
    /// Inputs per output: Cin/groups * kh * kw (linear: C*H*W of its input; dense: W).
    pub k: usize,
    /// Outputs of one group's matrix: Cout/groups (linear: out_features).
    pub n: usize,
    /// Independent K x N matrices (a grouped conv maps as `groups` separate matrices).
    pub groups: usize,
    /// Input vectors per frame: H_out * W_out of a conv, 1 for a linear layer, C * H for dense.
    pub vectors: usize,
}

impl LayerMatrix {
    /// Multiply-accumulates per frame.
    pub fn macs(&self) -> u64 {
        (self.k * self.n * self.groups * self.vectors) as u64
    }
}

impl ModelDesc {
    /// Output [C, H, W] of every layer (linear and flatten give [n, 1, 1]); errors name the
    /// layer whose input does not fit it.
    pub fn shapes(&self) -> Result<Vec<[usize; 3]>, ModelError> {
        Ok(self.walk()?.into_iter().map(|s| s.out).collect())
    }

    /// Trainable parameters: conv/linear/dense weights and biases, batch-norm and layer-norm
    /// gamma and beta, constant tensors (as published counts do; running statistics are not
    /// parameters).
    pub fn params(&self) -> Result<u64, ModelError> {
        let mut total = 0u64;
        for step in self.walk()? {
            let [c, h, w] = step.input();
            total += match &step.layer.op {
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
                Op::Dense { out_features, bias } => {
                    (w * out_features + if *bias { *out_features } else { 0 }) as u64
                }
                Op::BatchNorm => 2 * c as u64,
                Op::LayerNorm { .. } => 2 * w as u64,
                Op::Const { shape } => shape.iter().product::<usize>() as u64,
                _ => 0,
            };
        }
        Ok(total)
    }

    /// The K x N matrix and vectors per frame of every conv/linear layer, in layer order.
    pub fn matrices(&self) -> Result<Vec<LayerMatrix>, ModelError> {
        let mut v = Vec::new();
        for step in self.walk()? {
            let (i, l) = (step.index, step.layer);
            let [c, h, w] = step.input();
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
                    vectors: step.out[1] * step.out[2],
                },
                Op::Linear { out_features, .. } => LayerMatrix {
                    layer: i,
                    name: l.name.clone(),
                    k: c * h * w,
                    n: *out_features,
                    groups: 1,
                    vectors: 1,
                },
                Op::Dense { out_features, .. } => LayerMatrix {
                    layer: i,
                    name: l.name.clone(),
                    k: w,
                    n: *out_features,
                    groups: 1,
                    vectors: c * h,
                },
                _ => continue,
            };
            v.push(m);
        }
        Ok(v)
    }
}
