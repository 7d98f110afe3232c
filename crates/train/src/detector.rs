//! A detector built from a model description (`models/*.toml`): every layer is one of the
//! description's crossbar-mappable ops, so the same file drives the trainer and the mapper.
//! The last three outputs are CenterNet's heads: class heat-map, box size, centre offset.

use super::error::{Result, TrainError};
use super::loss::HeadOut;
use super::noise::{NoiseSite, WeightNoise};
use nestevo_core::error::Context;
use nestevo_core::{check, invalid};
use nestevo_model::{ModelDesc, Op, Src};
use tch::{nn, nn::ModuleT, Device, Tensor};

/// Heat-map bias so that the initial score is 0.1 (CenterNet): keeps the focal loss stable.
const HM_BIAS_INIT: f64 = -2.19;

enum Layer {
    Conv {
        w: Tensor,
        b: Option<Tensor>,
        stride: i64,
        padding: i64,
        dilation: i64,
        groups: i64,
    },
    Linear {
        w: Tensor,
        b: Option<Tensor>,
    },
    Bn(nn::BatchNorm),
    Relu,
    Relu6,
    MaxPool([i64; 3]),
    AvgPool([i64; 3]),
    Gap,
    Add,
    Upsample(i64),
    Concat,
    Flatten,
}

pub struct Detector {
    pub desc: ModelDesc,
    pub vs: nn::VarStore,
    layers: Vec<Layer>,
    inputs: Vec<Vec<Src>>,
    heads: [usize; 3],
    /// Output cells per input pixel, inverted: input pixels per heat-map cell.
    pub stride: f32,
    pub classes: usize,
    /// Eq. 18-20 noise on every conv/linear weight in the forward pass, when set.
    pub noise: Option<WeightNoise>,
    /// For each conv, the batch-norm the simulator folds into it (`cim::network`'s rule: a
    /// batch-norm reading a conv that nothing else reads), for the folded noise site.
    fold_into: Vec<Option<usize>>,
    /// A noise draw fixed once (`fix_noise_draw`): per conv/linear layer the change of the
    /// weight the chip holds; empty when none is fixed.
    fixed: Vec<Option<Tensor>>,
}

/// The simulator's fold rule (`cim::network::CimNetwork::new_on`), on a description's graph:
/// a batch-norm whose first input is a conv read by nothing else (no other layer, not a
/// network output) is folded into that conv.
pub fn fold_targets(desc: &ModelDesc, inputs: &[Vec<Src>]) -> Vec<Option<usize>> {
    let mut readers = vec![0usize; desc.layers.len()];
    for s in inputs.iter().flatten() {
        if let Src::Layer(j) = s {
            readers[*j] += 1;
        }
    }
    for o in &desc.outputs {
        if let Some(j) = desc.index_of(o) {
            readers[j] += 1;
        }
    }
    let mut fold_into = vec![None; desc.layers.len()];
    for (i, l) in desc.layers.iter().enumerate() {
        if let (Op::BatchNorm, Some(Src::Layer(j))) = (&l.op, inputs[i].first()) {
            if matches!(desc.layers[*j].op, Op::Conv { .. }) && readers[*j] == 1 {
                fold_into[*j] = Some(i);
            }
        }
    }
    fold_into
}

impl Detector {
    /// Builds the network of `desc` with fresh weights on `device`.
    pub fn new(desc: &ModelDesc, classes: usize, device: Device) -> Result<Self> {
        let src = &desc.source;
        let steps = desc
            .walk()
            .map_err(TrainError::from)
            .ctx(|| format!("model description {src}"))?;
        let shapes: Vec<[usize; 3]> = steps.iter().map(|s| s.out).collect();
        check!(
            desc.outputs.len() == 3,
            "model description {src}: field `outputs` must name 3 head layers (heat-map, size, offset), got {:?}",
            desc.outputs
        );
        let mut heads = [0; 3];
        for (k, (name, want)) in desc.outputs.iter().zip([classes, 2, 2]).enumerate() {
            let i = desc.index_of(name).ok_or_else(|| {
                TrainError::Invalid(format!(
                    "model description {src}: output `{name}` is not a layer"
                ))
            })?;
            check!(
                matches!(desc.layers[i].op, Op::Conv { .. }),
                "model description {src}: output `{name}` must be a conv layer (a detector head)"
            );
            check!(
                shapes[i][0] == want,
                "model description {src}: head `{name}` has {} channels, the detector needs {want} ({})",
                shapes[i][0],
                ["one per class", "width, height", "x, y offset"][k]
            );
            heads[k] = i;
        }
        let hm_shape = shapes[heads[0]];
        for &h in &heads[1..] {
            check!(
                shapes[h][1..] == hm_shape[1..],
                "model description {src}: heads {:?} must share one output grid",
                desc.outputs
            );
        }
        check!(
            desc.input[1].is_multiple_of(hm_shape[1])
                && desc.input[1] / hm_shape[1] == desc.input[2] / hm_shape[2],
            "model description {src}: the heat-map grid {}x{} must divide the input {}x{} evenly",
            hm_shape[1],
            hm_shape[2],
            desc.input[1],
            desc.input[2]
        );
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let mut layers = Vec::with_capacity(desc.layers.len());
        let mut inputs = Vec::with_capacity(desc.layers.len());
        for step in &steps {
            let (i, l, ins) = (step.index, step.layer, step.inputs.clone());
            let in_c = step.input()[0] as i64;
            let in_numel = step.input().iter().product::<usize>() as i64;
            let p = &root / l.name.as_str();
            let layer = match &l.op {
                Op::Conv {
                    out_channels,
                    kernel,
                    stride,
                    padding,
                    dilation,
                    groups,
                    bias,
                } => {
                    let (o, g) = (*out_channels as i64, *groups as i64);
                    let shape = [o, in_c / g, kernel[0] as i64, kernel[1] as i64];
                    let w = p.var(
                        "weight",
                        &shape,
                        nn::Init::Kaiming {
                            dist: nn::init::NormalOrUniform::Uniform,
                            fan: nn::init::FanInOut::FanIn,
                            non_linearity: nn::init::NonLinearity::ReLU,
                        },
                    );
                    let b = bias.then(|| {
                        let init = if i == heads[0] {
                            nn::Init::Const(HM_BIAS_INIT)
                        } else {
                            nn::Init::Const(0.0)
                        };
                        p.var("bias", &[o], init)
                    });
                    Layer::Conv {
                        w,
                        b,
                        stride: *stride as i64,
                        padding: *padding as i64,
                        dilation: *dilation as i64,
                        groups: g,
                    }
                }
                Op::Linear { out_features, bias } => {
                    let o = *out_features as i64;
                    let bound = 1.0 / (in_numel as f64).sqrt();
                    let w = p.var(
                        "weight",
                        &[o, in_numel],
                        nn::Init::Uniform {
                            lo: -bound,
                            up: bound,
                        },
                    );
                    let b = bias.then(|| {
                        p.var(
                            "bias",
                            &[o],
                            nn::Init::Uniform {
                                lo: -bound,
                                up: bound,
                            },
                        )
                    });
                    Layer::Linear { w, b }
                }
                Op::BatchNorm => Layer::Bn(nn::batch_norm2d(&p, in_c, Default::default())),
                Op::Relu => Layer::Relu,
                Op::Relu6 => Layer::Relu6,
                Op::MaxPool {
                    kernel,
                    stride,
                    padding,
                } => Layer::MaxPool([*kernel as i64, *stride as i64, *padding as i64]),
                Op::AvgPool {
                    kernel,
                    stride,
                    padding,
                } => Layer::AvgPool([*kernel as i64, *stride as i64, *padding as i64]),
                Op::GlobalAvgPool => Layer::Gap,
                Op::Add => Layer::Add,
                Op::Upsample { scale } => Layer::Upsample(*scale as i64),
                Op::Concat => Layer::Concat,
                Op::Flatten => Layer::Flatten,
                other => {
                    return Err(TrainError::Invalid(format!(
                        "model description {src}: layer `{}`: op `{}` has no trainer layer; the \
                         trainer builds conv, linear, bn, relu, relu6, maxpool, avgpool, gap, \
                         add, upsample, concat (channels) and flatten",
                        l.name,
                        other.kind()
                    )))
                }
            };
            layers.push(layer);
            inputs.push(ins);
        }
        let fold_into = fold_targets(desc, &inputs);
        Ok(Self {
            desc: desc.clone(),
            vs,
            layers,
            inputs,
            fold_into,
            fixed: Vec::new(),
            heads,
            stride: (desc.input[1] / hm_shape[1]) as f32,
            classes,
            noise: None,
        })
    }

    /// The batch-norm folded into layer `i` (a conv) on the chip, if any.
    pub fn folded_bn(&self, i: usize) -> Option<usize> {
        self.fold_into.get(i).copied().flatten()
    }

    /// gamma / sqrt(running_var + eps) `[O]` of batch-norm layer `k` (eps as the simulator's
    /// fold, `cim::network::float::BN_EPS`): the factor folding multiplies a conv's output
    /// channel by.
    pub fn bn_scale(&self, k: usize) -> Option<Tensor> {
        let Layer::Bn(bn) = &self.layers[k] else {
            return None;
        };
        let var = bn.running_var.detach();
        let inv = (var + nestevo_cim::network::float::BN_EPS as f64).rsqrt();
        Some(match &bn.ws {
            Some(g) => g.detach() * inv,
            None => inv,
        })
    }

    /// The noise as layer `i` sees it: the weight to compute with, and for a conv whose
    /// batch-norm the chip folds (folded site), the folded weight's change, whose product is
    /// added after that batch-norm instead.
    fn noisy_weight(&self, i: usize, w: &Tensor, groups: i64) -> (Tensor, Option<Tensor>) {
        if let Some(Some(d)) = self.fixed.get(i) {
            return match self.folded_bn(i) {
                Some(_) => (w.shallow_clone(), Some(d.shallow_clone())),
                None => (w + d, None),
            };
        }
        match self.noise {
            None => (w.shallow_clone(), None),
            Some(n) if n.site == NoiseSite::Raw => (n.apply(w), None),
            Some(n) => match self.folded_bn(i).and_then(|k| self.bn_scale(k)) {
                Some(scale) => (
                    w.shallow_clone(),
                    Some(n.chip_delta(w, Some(&scale), groups)),
                ),
                None => (w + n.chip_delta(w, None, groups), None),
            },
        }
    }

    /// Draws the noise once (as programming a chip does: one device state for every frame
    /// that follows) from `seed` and keeps it: every later forward uses this draw, the
    /// per-forward noise is turned off. Without noise it does nothing.
    pub fn fix_noise_draw(&mut self, seed: u64) {
        let Some(n) = self.noise else {
            return;
        };
        tch::manual_seed(seed as i64);
        let _g = tch::no_grad_guard();
        let fixed: Vec<Option<Tensor>> = self
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let (w, groups) = match l {
                    Layer::Conv { w, groups, .. } => (w, *groups),
                    Layer::Linear { w, .. } => (w, 1),
                    _ => return None,
                };
                Some(match n.site {
                    NoiseSite::Raw => n.apply(w) - w,
                    NoiseSite::Folded | NoiseSite::Cell => {
                        let scale = self.folded_bn(i).and_then(|k| self.bn_scale(k));
                        n.chip_delta(w, scale.as_ref(), groups)
                    }
                })
            })
            .collect();
        self.fixed = fixed;
        self.noise = None;
    }

    /// The fixed draw's change of layer `i`'s weight as the chip holds it (folded for a conv
    /// whose batch-norm is folded), if a draw is fixed.
    pub fn fixed_noise(&self, i: usize) -> Option<&Tensor> {
        self.fixed.get(i).and_then(Option::as_ref)
    }

    /// Input [C, H, W] the description asks for.
    pub fn input_chw(&self) -> [usize; 3] {
        self.desc.input
    }

    /// Heat-map grid (h, w).
    pub fn grid(&self) -> (usize, usize) {
        let [_, h, w] = self.desc.input;
        (h / self.stride as usize, w / self.stride as usize)
    }

    /// Number of trainable parameters.
    pub fn params(&self) -> i64 {
        self.vs
            .trainable_variables()
            .iter()
            .map(|t| t.numel() as i64)
            .sum()
    }

    /// Runs the network on [B, C, H, W] frames in [0, 1].
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<HeadOut> {
        Ok(self.run(x, train, None, false)?.0)
    }

    /// Sets every batch-norm layer's running statistics to those of its input on the frames
    /// `x` [B, C, H, W] (mean and unbiased variance per channel over batch and space, as
    /// PyTorch keeps them), layer by layer, each layer normalising with its new statistics
    /// before the next one is measured: what `torch.optim.swa_utils.update_bn` computes with
    /// one batch. No gradient flows.
    pub fn reestimate_bn(&self, x: &Tensor) -> Result<()> {
        let _g = tch::no_grad_guard();
        self.run(x, false, None, true)?;
        Ok(())
    }

    /// The heads and the output of layer `keep` (an index into the description's layers),
    /// e.g. the features the drift statistic pools (`evolve::drift`).
    pub fn forward_features(
        &self,
        x: &Tensor,
        train: bool,
        keep: usize,
    ) -> Result<(HeadOut, Tensor)> {
        check!(
            keep < self.layers.len(),
            "model {}: no layer {keep} (it has {})",
            self.desc.name,
            self.layers.len()
        );
        let (heads, kept) = self.run(x, train, Some(keep), false)?;
        Ok((heads, kept.expect("kept layer")))
    }

    fn run(
        &self,
        x: &Tensor,
        train: bool,
        keep: Option<usize>,
        reestimate_bn: bool,
    ) -> Result<(HeadOut, Option<Tensor>)> {
        let [c, h, w] = self.desc.input;
        let size = x.size();
        // A fully convolutional network also takes its input 2x2-pooled (adaptive compression
        // trains on half-size frames); no other size, and a network with a linear layer or a
        // flatten only its own.
        let sized = size.len() == 4 && size[1] == c as i64;
        let own = sized && size[2..] == [h as i64, w as i64];
        let half = sized
            && h % 2 == 0
            && w % 2 == 0
            && size[2..] == [(h / 2) as i64, (w / 2) as i64]
            && self.fully_convolutional();
        if !(own || half) {
            invalid!(
                "model {}: input of shape {size:?} does not match the description's [B, {c}, {h}, {w}] \
                 (or, fully convolutional, its 2x2-pooled [B, {c}, {}, {}])",
                self.desc.name,
                h / 2,
                w / 2
            );
        }
        let mut outs: Vec<Option<Tensor>> = Vec::with_capacity(self.layers.len());
        // The folded noise's product of a conv, added after the batch-norm folded into it.
        let mut after_bn: Vec<Option<Tensor>> = (0..self.layers.len()).map(|_| None).collect();
        for (i, (layer, ins)) in self.layers.iter().zip(&self.inputs).enumerate() {
            let get = |s: &Src| match s {
                Src::Input => x,
                Src::Layer(j) => outs[*j].as_ref().expect("earlier layer"),
            };
            let a = get(&ins[0]);
            let y = match layer {
                Layer::Conv {
                    w,
                    b,
                    stride,
                    padding,
                    dilation,
                    groups,
                } => {
                    let (wn, folded) = self.noisy_weight(i, w, *groups);
                    let conv = |w: &Tensor, b: Option<&Tensor>| {
                        a.conv2d(w, b, [*stride; 2], [*padding; 2], [*dilation; 2], *groups)
                    };
                    if let (Some(d), Some(k)) = (folded, self.folded_bn(i)) {
                        after_bn[k] = Some(conv(&d, None));
                    }
                    conv(&wn, b.as_ref())
                }
                Layer::Linear { w, b } => {
                    let (wn, _) = self.noisy_weight(i, w, 1);
                    a.flatten(1, -1).linear(&wn, b.as_ref())
                }
                Layer::Bn(bn) if reestimate_bn => {
                    let mean = a.mean_dim(&[0i64, 2, 3][..], false, tch::Kind::Float);
                    let var = a.var_dim(&[0i64, 2, 3][..], true, false);
                    bn.running_mean.shallow_clone().copy_(&mean);
                    bn.running_var.shallow_clone().copy_(&var);
                    bn.forward_t(a, false)
                }
                Layer::Bn(bn) => match after_bn[i].take() {
                    Some(d) => bn.forward_t(a, train) + d,
                    None => bn.forward_t(a, train),
                },
                Layer::Relu => a.relu(),
                Layer::Relu6 => a.clamp(0.0, 6.0),
                Layer::MaxPool([k, s, p]) => a.max_pool2d([*k; 2], [*s; 2], [*p; 2], [1, 1], false),
                Layer::AvgPool([k, s, p]) => {
                    a.avg_pool2d([*k; 2], [*s; 2], [*p; 2], false, true, None::<i64>)
                }
                Layer::Gap => a.adaptive_avg_pool2d([1, 1]),
                Layer::Add => a + get(&ins[1]),
                Layer::Upsample(s) => {
                    let (h, w) = (a.size()[2], a.size()[3]);
                    a.upsample_nearest2d([h * s, w * s], Some(*s as f64), Some(*s as f64))
                }
                Layer::Concat => Tensor::cat(&ins.iter().map(get).collect::<Vec<_>>(), 1),
                Layer::Flatten => a.flatten(1, -1),
            };
            outs.push(Some(y));
        }
        let take = |i: usize| outs[i].as_ref().expect("head").shallow_clone();
        Ok((
            HeadOut {
                hm: take(self.heads[0]),
                wh: take(self.heads[1]),
                off: take(self.heads[2]),
            },
            keep.map(take),
        ))
    }

    /// No linear, flatten or global-pooling layer: a 2x2-pooled input gives outputs on the
    /// half grid (`run` accepts it).
    pub fn fully_convolutional(&self) -> bool {
        !self
            .layers
            .iter()
            .any(|l| matches!(l, Layer::Linear { .. } | Layer::Flatten | Layer::Gap))
    }

    /// Frames (RGB u8, H*W*3 each) to a [B, 3, H, W] float batch on the model's device.
    pub fn batch_from_rgb(&self, frames: &[&[u8]]) -> Tensor {
        let [_, h, w] = self.desc.input;
        self.batch_from_rgb_hw(frames, h, w)
    }

    /// Frames of `h` x `w` pixels (RGB u8) to a [B, 3, h, w] float batch.
    pub fn batch_from_rgb_hw(&self, frames: &[&[u8]], h: usize, w: usize) -> Tensor {
        let [c, _, _] = self.desc.input;
        let mut buf = Vec::with_capacity(frames.len() * c * h * w);
        for f in frames {
            buf.extend_from_slice(f);
        }
        Tensor::from_slice(&buf)
            .view([frames.len() as i64, h as i64, w as i64, c as i64])
            .to_device(self.vs.device())
            .permute([0, 3, 1, 2])
            .to_kind(tch::Kind::Float)
            / 255.0
    }
}
