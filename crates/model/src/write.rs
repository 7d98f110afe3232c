//! `ModelDesc` -> TOML in the same format, so a pruned model's description can be written
//! beside its checkpoint and read back unchanged.

use super::parse::{RawKernel, RawLayer, RawModel};
use super::{Act, ModelDesc, Op};

impl ModelDesc {
    /// TOML text that `parse_model` reads back to an equal description. Inputs are written
    /// only where they differ from the default (the previous layer).
    pub fn to_toml(&self) -> String {
        let mut layers = Vec::with_capacity(self.layers.len());
        for (i, l) in self.layers.iter().enumerate() {
            let prev = if i == 0 {
                "input"
            } else {
                self.layers[i - 1].name.as_str()
            };
            let mut r = RawLayer {
                name: l.name.clone(),
                op: l.op.kind().to_string(),
                inputs: (l.inputs != [prev]).then(|| l.inputs.clone()),
                ..Default::default()
            };
            match &l.op {
                Op::Conv {
                    out_channels,
                    kernel,
                    stride,
                    padding,
                    dilation,
                    groups,
                    bias,
                } => {
                    r.out_channels = Some(*out_channels);
                    r.kernel = Some(if kernel[0] == kernel[1] {
                        RawKernel::Square(kernel[0])
                    } else {
                        RawKernel::Pair(*kernel)
                    });
                    r.stride = (*stride != 1).then_some(*stride);
                    r.padding = (*padding != 0).then_some(*padding);
                    r.dilation = (*dilation != 1).then_some(*dilation);
                    r.groups = (*groups != 1).then_some(*groups);
                    r.bias = (!bias).then_some(false);
                }
                Op::Linear { out_features, bias } => {
                    r.out_features = Some(*out_features);
                    r.bias = (!bias).then_some(false);
                }
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
                    r.kernel = Some(RawKernel::Square(*kernel));
                    r.stride = (stride != kernel).then_some(*stride);
                    r.padding = (*padding != 0).then_some(*padding);
                }
                Op::Upsample { scale } => r.scale = Some(*scale),
                Op::ConcatAxis { axis } => r.axis = Some(*axis),
                Op::Dense { out_features, bias } => {
                    r.out_features = Some(*out_features);
                    r.bias = (!bias).then_some(false);
                }
                Op::Act(Act::HardSigmoid { alpha, beta } | Act::Affine { alpha, beta }) => {
                    r.alpha = Some(*alpha);
                    r.beta = Some(*beta);
                }
                Op::Act(Act::Clip { min, max }) => {
                    r.min = min.is_finite().then_some(*min);
                    r.max = max.is_finite().then_some(*max);
                }
                Op::Pad { pads, neg_inf } => {
                    r.pads = Some(*pads);
                    r.neg_inf = neg_inf.then_some(true);
                }
                Op::ReduceMean { axes } => {
                    r.axes = Some((0..3).filter(|&a| axes[a]).collect());
                }
                Op::Softmax { axis } => r.axis = Some(*axis),
                Op::LayerNorm { eps } => r.eps = Some(*eps),
                Op::Transpose { perm } => r.perm = Some(*perm),
                Op::Reshape { shape } | Op::Const { shape } => r.shape = Some(*shape),
                Op::Slice {
                    axis,
                    start,
                    end,
                    step,
                } => {
                    r.axis = Some(*axis);
                    r.start = Some(*start);
                    r.end = Some(*end);
                    r.step = (*step != 1).then_some(*step);
                }
                _ => {}
            }
            layers.push(r);
        }
        let raw = RawModel {
            name: self.name.clone(),
            input: self.input,
            outputs: self.outputs.clone(),
            layers,
        };
        toml::to_string(&raw).expect("a model description always serialises")
    }
}
