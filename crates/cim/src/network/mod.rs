//! A whole network on the crossbars: a model description (`models/*.toml`) and a checkpoint's
//! tensors, run layer by layer. Every conv/linear/dense goes onto crossbars (a batch-norm that
//! reads only a conv is folded into it, SPEC 3.2 quantisation, input scales calibrated on
//! sample frames); every other op, products of two computed tensors included, runs digitally
//! in f32. Beside it, the float reference of the same
//! graph (batch-norm unfolded, as the trainer's eval mode), which the crossbar run is judged by.
//!
//! An engine with a whole-network path (`backend::NetworkEngine`, e.g. the LibTorch one) gets
//! the calibrated network as a `NetPlan` (every layer's node, inputs and folding; no tensors)
//! and runs `forward_cim` itself; where it covers not every layer it says so, and the network
//! runs here layer by layer. `NESTEVO_NET_PATH=layers` forces the layer-by-layer path.

pub mod float;

use self::float::BatchNorm;
use super::backend::{Backend, NetRun};
use super::conv::{fold_batch_norm, CimConv2d, Conv2dShape};
use super::digital;
use super::error::{CimError, Result};
use super::layer::CimLinear;
use super::noise::NoiseSpec;
use super::stats::LayerStats;
use ndarray::{Array1, Array2, Array4, ArrayView4, Ix1, Ix2, Ix4};
use nestevo_arch::ArchSpec;
use nestevo_core::error::Context;
use nestevo_model::{Act, ModelDesc, Op, Src, Tensors};
use serde::Serialize;

/// One layer of a programmed network: its op and what it holds (the float weights of the
/// reference, the programmed crossbars and their calibrated input quantisation).
pub enum Node {
    Conv {
        w: Array4<f32>,
        b: Option<Array1<f32>>,
        shape: Conv2dShape,
        cim: CimConv2d,
    },
    Linear {
        w: Array2<f32>,
        b: Option<Array1<f32>>,
        cim: CimLinear,
    },
    Bn(BatchNorm),
    Relu,
    Relu6,
    MaxPool([usize; 3]),
    AvgPool([usize; 3]),
    Gap,
    Add,
    Upsample(usize),
    Concat,
    Flatten,
    /// A linear layer on every row of the last axis (C * H vectors per frame).
    Dense {
        w: Array2<f32>,
        b: Option<Array1<f32>>,
        cim: CimLinear,
    },
    MatMul,
    Act(Act),
    Mul,
    Div,
    Pad([usize; 4], bool),
    ReduceMean([bool; 3]),
    Softmax(usize),
    LayerNorm {
        gamma: Array1<f32>,
        beta: Array1<f32>,
        eps: f32,
    },
    Transpose([usize; 3]),
    Reshape([usize; 3]),
    Slice([usize; 4]),
    ConcatAxis(usize),
    Const(ndarray::Array3<f32>),
}

/// Rows of the last axis: [B, C, H, W] -> [B * C * H, W].
fn rows(a: ArrayView4<f32>) -> Array2<f32> {
    let (b, c, h, w) = a.dim();
    a.as_standard_layout()
        .into_owned()
        .into_shape_with_order((b * c * h, w))
        .expect("contiguous")
}

/// [B * C * H, N] back to [B, C, H, N].
fn unrows(y: Array2<f32>, (b, c, h): (usize, usize, usize)) -> Array4<f32> {
    let n = y.dim().1;
    y.into_shape_with_order((b, c, h, n)).expect("contiguous")
}

/// Counts of one crossbar layer over a run.
#[derive(Debug, Clone, Serialize)]
pub struct LayerRun {
    pub layer: String,
    pub stats: LayerStats,
}

/// A network programmed onto an accelerator's crossbars.
pub struct CimNetwork {
    pub desc: ModelDesc,
    nodes: Vec<Node>,
    srcs: Vec<Vec<Src>>,
    /// Batch-norm layers folded into the conv they read (identity on the crossbar path).
    folded: Vec<bool>,
    calibrated: bool,
    backend: Backend,
    /// The layer-by-layer fallback has been reported (once per network).
    fallback_noted: bool,
}

/// A calibrated network as an engine's whole-network path sees it.
pub struct NetPlan<'a> {
    pub name: &'a str,
    /// [C, H, W] of a frame.
    pub input: [usize; 3],
    pub layers: Vec<PlanLayer<'a>>,
    /// Indices of the network's outputs (`desc.outputs` order).
    pub outputs: Vec<usize>,
}

/// One layer of a `NetPlan`.
pub struct PlanLayer<'a> {
    pub name: &'a str,
    pub node: &'a Node,
    pub srcs: &'a [Src],
    /// A batch-norm folded into the conv it reads: the identity here.
    pub folded: bool,
}

fn dyn_to<D: ndarray::Dimension>(a: &ndarray::ArrayD<f32>) -> Array<D> {
    a.clone().into_dimensionality::<D>().expect("shape checked")
}
type Array<D> = ndarray::Array<f32, D>;

impl CimNetwork {
    /// Reads every layer's tensors from `t` (names as the trainer's `VarStore`: `conv.weight`,
    /// `conv.bias`, `bn.weight`, `bn.bias`, `bn.running_mean`, `bn.running_var`) and programs
    /// the crossbars. Layer l's noise is drawn from `noise.seed + l * 2^16`.
    pub fn new(desc: &ModelDesc, t: &Tensors, spec: &ArchSpec, noise: &NoiseSpec) -> Result<Self> {
        Self::new_on(desc, t, spec, noise, &Backend::cpu())
    }

    /// `new` with every crossbar layer programmed on the engine `backend`.
    pub fn new_on(
        desc: &ModelDesc,
        t: &Tensors,
        spec: &ArchSpec,
        noise: &NoiseSpec,
        backend: &Backend,
    ) -> Result<Self> {
        let src = &desc.source;
        let steps = desc
            .walk()
            .map_err(CimError::from)
            .ctx(|| format!("model description {src}"))?;
        let srcs: Vec<Vec<Src>> = steps.iter().map(|s| s.inputs.clone()).collect();
        let in_shape = |i: usize| steps[i].input();
        // How many layers (and network outputs) read each layer: a conv is folded only into
        // a batch-norm that is its sole reader.
        let mut readers = vec![0usize; desc.layers.len()];
        for s in srcs.iter().flatten() {
            if let Src::Layer(j) = s {
                readers[*j] += 1;
            }
        }
        for o in &desc.outputs {
            if let Some(j) = desc.index_of(o) {
                readers[j] += 1;
            }
        }
        let mut folded = vec![false; desc.layers.len()];
        let mut fold_into: Vec<Option<usize>> = vec![None; desc.layers.len()];
        for (i, l) in desc.layers.iter().enumerate() {
            if let (Op::BatchNorm, Some(Src::Layer(j))) = (&l.op, srcs[i].first()) {
                if matches!(desc.layers[*j].op, Op::Conv { .. }) && readers[*j] == 1 {
                    folded[i] = true;
                    fold_into[*j] = Some(i);
                }
            }
        }
        let bn_of = |i: usize| -> Result<BatchNorm> {
            let c = in_shape(i)[0];
            let name = &desc.layers[i].name;
            let get = |p: &str| -> Result<Array1<f32>> {
                Ok(dyn_to::<Ix1>(t.get(&format!("{name}.{p}"), &[c])?))
            };
            Ok(BatchNorm {
                gamma: get("weight")?,
                beta: get("bias")?,
                mean: get("running_mean")?,
                var: get("running_var")?,
            })
        };
        let mut nodes = Vec::with_capacity(desc.layers.len());
        for (i, l) in desc.layers.iter().enumerate() {
            let name = &l.name;
            let [c, _, _] = in_shape(i);
            let mut nz = *noise;
            nz.seed = noise.seed.wrapping_add((i as u64) << 16);
            let node = match &l.op {
                Op::Conv {
                    out_channels: o,
                    kernel,
                    stride,
                    padding,
                    dilation,
                    groups,
                    bias,
                } => {
                    let w = dyn_to::<Ix4>(t.get(
                        &format!("{name}.weight"),
                        &[*o, c / groups, kernel[0], kernel[1]],
                    )?);
                    let b = match bias {
                        true => Some(dyn_to::<Ix1>(t.get(&format!("{name}.bias"), &[*o])?)),
                        false => None,
                    };
                    let shape = Conv2dShape {
                        stride: (*stride, *stride),
                        padding: (*padding, *padding),
                        dilation: (*dilation, *dilation),
                        groups: *groups,
                    };
                    let mut bf = b.clone().unwrap_or_else(|| Array1::zeros(*o));
                    // A copy of the weights only where a batch-norm folds into them.
                    let folded_w;
                    let wf = match fold_into[i] {
                        Some(k) => {
                            let bn = bn_of(k)?;
                            let mut wf = w.clone();
                            fold_batch_norm(
                                &mut wf,
                                &mut bf,
                                &bn.gamma,
                                &bn.beta,
                                &bn.mean,
                                &bn.var,
                                float::BN_EPS,
                            )
                            .ctx(|| format!("layer `{name}`: folding `{}`", desc.layers[k].name))?;
                            folded_w = wf;
                            folded_w.view()
                        }
                        None => w.view(),
                    };
                    let cim = CimConv2d::new_on(spec, wf, Some(bf), shape, &nz, backend)
                        .ctx(|| format!("layer `{name}` onto crossbars"))?;
                    Node::Conv { w, b, shape, cim }
                }
                Op::Linear {
                    out_features: o,
                    bias,
                } => {
                    let k: usize = in_shape(i).iter().product();
                    let w = dyn_to::<Ix2>(t.get(&format!("{name}.weight"), &[*o, k])?);
                    let b = match bias {
                        true => Some(dyn_to::<Ix1>(t.get(&format!("{name}.bias"), &[*o])?)),
                        false => None,
                    };
                    let cim = CimLinear::new_on(spec, w.view(), b.clone(), &nz, backend)
                        .ctx(|| format!("layer `{name}` onto crossbars"))?;
                    Node::Linear { w, b, cim }
                }
                Op::BatchNorm => Node::Bn(bn_of(i)?),
                Op::Relu => Node::Relu,
                Op::Relu6 => Node::Relu6,
                Op::MaxPool {
                    kernel,
                    stride,
                    padding,
                } => Node::MaxPool([*kernel, *stride, *padding]),
                Op::AvgPool {
                    kernel,
                    stride,
                    padding,
                } => Node::AvgPool([*kernel, *stride, *padding]),
                Op::GlobalAvgPool => Node::Gap,
                Op::Add => Node::Add,
                Op::Upsample { scale } => Node::Upsample(*scale),
                Op::Concat => Node::Concat,
                Op::Flatten => Node::Flatten,
                Op::Dense {
                    out_features: o,
                    bias,
                } => {
                    let k = in_shape(i)[2];
                    let w = dyn_to::<Ix2>(t.get(&format!("{name}.weight"), &[*o, k])?);
                    let b = match bias {
                        true => Some(dyn_to::<Ix1>(t.get(&format!("{name}.bias"), &[*o])?)),
                        false => None,
                    };
                    let cim = CimLinear::new_on(spec, w.view(), b.clone(), &nz, backend)
                        .ctx(|| format!("layer `{name}` onto crossbars"))?;
                    Node::Dense { w, b, cim }
                }
                Op::MatMul => Node::MatMul,
                Op::Act(f) => Node::Act(*f),
                Op::Mul => Node::Mul,
                Op::Div => Node::Div,
                Op::Pad { pads, neg_inf } => Node::Pad(*pads, *neg_inf),
                Op::ReduceMean { axes } => Node::ReduceMean(*axes),
                Op::Softmax { axis } => Node::Softmax(*axis),
                Op::LayerNorm { eps } => {
                    let d = in_shape(i)[2];
                    let get = |p: &str| -> Result<Array1<f32>> {
                        Ok(dyn_to::<Ix1>(t.get(&format!("{name}.{p}"), &[d])?))
                    };
                    Node::LayerNorm {
                        gamma: get("weight")?,
                        beta: get("bias")?,
                        eps: *eps,
                    }
                }
                Op::Transpose { perm } => Node::Transpose(*perm),
                Op::Reshape { shape } => Node::Reshape(*shape),
                Op::Slice {
                    axis,
                    start,
                    end,
                    step,
                } => Node::Slice([*axis, *start, *end, *step]),
                Op::ConcatAxis { axis } => Node::ConcatAxis(*axis),
                Op::Const { shape } => Node::Const(dyn_to::<ndarray::Ix3>(
                    t.get(&format!("{name}.value"), shape)?,
                )),
            };
            nodes.push(node);
        }
        Ok(CimNetwork {
            desc: desc.clone(),
            nodes,
            srcs,
            folded,
            calibrated: false,
            backend: backend.clone(),
            fallback_noted: false,
        })
    }

    /// Names of the batch-norm layers folded into a conv.
    pub fn folded_layers(&self) -> Vec<&str> {
        self.desc
            .layers
            .iter()
            .zip(&self.folded)
            .filter(|(_, f)| **f)
            .map(|(l, _)| l.name.as_str())
            .collect()
    }

    fn check_input(&self, x: &ArrayView4<f32>) -> Result<()> {
        let [c, h, w] = self.desc.input;
        let (_, xc, xh, xw) = x.dim();
        nestevo_core::check!(
            (xc, xh, xw) == (c, h, w),
            "model {}: input of shape {:?} does not match the description's [B, {c}, {h}, {w}]",
            self.desc.name,
            x.dim()
        );
        Ok(())
    }

    /// Every layer's float output, in description order (the reference forward).
    pub fn forward_float_layers(&self, x: ArrayView4<f32>) -> Result<Vec<Array4<f32>>> {
        self.check_input(&x)?;
        let mut outs: Vec<Array4<f32>> = Vec::with_capacity(self.nodes.len());
        for (i, node) in self.nodes.iter().enumerate() {
            let y = {
                let get = |s: &Src| match s {
                    Src::Input => x.view(),
                    Src::Layer(j) => outs[*j].view(),
                };
                let a = get(&self.srcs[i][0]);
                match node {
                    Node::Conv { w, b, shape, .. } => float::conv2d(a, w, b.as_ref(), shape)?,
                    Node::Linear { w, b, .. } => float::linear(a, w, b.as_ref())?,
                    Node::Dense { w, b, .. } => {
                        let (bs, c, h, _) = a.dim();
                        let mut y = rows(a).dot(&w.t());
                        if let Some(b) = b {
                            y += b;
                        }
                        unrows(y, (bs, c, h))
                    }
                    Node::Bn(bn) => bn.apply(a),
                    _ => digital_op(node, a, &self.srcs[i], &get)?,
                }
            };
            outs.push(y);
        }
        Ok(outs)
    }

    /// The network's outputs (`desc.outputs` order) in plain f32.
    pub fn forward_float(&self, x: ArrayView4<f32>) -> Result<Vec<Array4<f32>>> {
        let all = self.forward_float_layers(x)?;
        Ok(self.pick_outputs(all))
    }

    fn pick_outputs(&self, mut all: Vec<Array4<f32>>) -> Vec<Array4<f32>> {
        self.desc
            .outputs
            .iter()
            .map(|o| {
                let j = self.desc.index_of(o).expect("resolved by parse");
                std::mem::take(&mut all[j])
            })
            .collect()
    }

    /// Sets every crossbar layer's input scale from the float network's activations on
    /// sample frames `x` (max-abs, see `quant`).
    pub fn calibrate(&mut self, x: ArrayView4<f32>) -> Result<()> {
        self.calibrate_outputs(x).map(drop)
    }

    /// `calibrate`, returning the float network's outputs on `x` (those of `forward_float`):
    /// where the calibration frames are the frames run, the float reference comes for free.
    pub fn calibrate_outputs(&mut self, x: ArrayView4<f32>) -> Result<Vec<Array4<f32>>> {
        let all = self.forward_float_layers(x)?;
        for (i, node) in self.nodes.iter_mut().enumerate() {
            let a = match self.srcs[i][0] {
                Src::Input => x.view(),
                Src::Layer(j) => all[j].view(),
            };
            match node {
                Node::Conv { cim, .. } => cim.calibrate(a),
                Node::Linear { cim, .. } => cim.calibrate(float::flatten2(a).view()),
                Node::Dense { cim, .. } => cim.calibrate(rows(a).view()),
                _ => {}
            }
        }
        self.calibrated = true;
        Ok(self.pick_outputs(all))
    }

    /// The calibrated network as an engine's whole-network path sees it.
    pub fn plan(&self) -> NetPlan<'_> {
        NetPlan {
            name: &self.desc.name,
            input: self.desc.input,
            layers: (0..self.nodes.len())
                .map(|i| PlanLayer {
                    name: &self.desc.layers[i].name,
                    node: &self.nodes[i],
                    srcs: &self.srcs[i],
                    folded: self.folded[i],
                })
                .collect(),
            outputs: self
                .desc
                .outputs
                .iter()
                .map(|o| self.desc.index_of(o).expect("resolved by parse"))
                .collect(),
        }
    }

    /// The network's outputs computed on the crossbars, and each crossbar layer's counts: by
    /// the engine's whole-network path where it has one that covers every layer, else layer
    /// by layer (the same arithmetic and counts).
    pub fn forward_cim(&mut self, x: ArrayView4<f32>) -> Result<(Vec<Array4<f32>>, Vec<LayerRun>)> {
        let forced = std::env::var("NESTEVO_NET_PATH").is_ok_and(|v| v == "layers");
        if let (Some(engine), false) = (self.backend.network(), forced) {
            self.check_input(&x)?;
            nestevo_core::check!(
                self.calibrated,
                "model {}: calibrate the activation scales on sample frames before a crossbar run",
                self.desc.name
            );
            match engine.forward(&self.plan(), x).ctx(|| {
                format!(
                    "model {} on the {} engine",
                    self.desc.name,
                    self.backend.name()
                )
            })? {
                NetRun::Done { outputs, runs } => return Ok((outputs, runs)),
                NetRun::Uncovered(why) if !self.fallback_noted => {
                    self.fallback_noted = true;
                    eprintln!(
                        "model {}: the {} engine runs this network layer by layer on the host ({why})",
                        self.desc.name,
                        self.backend.name()
                    );
                }
                NetRun::Uncovered(_) => {}
            }
        }
        let (outs, runs) = self.forward_cim_layers(x)?;
        Ok((self.pick_outputs(outs), runs))
    }

    /// Every layer's output on the crossbar path, in description order (`outputs_of` picks the
    /// network's outputs), and each crossbar layer's counts.
    pub fn forward_cim_layers(
        &mut self,
        x: ArrayView4<f32>,
    ) -> Result<(Vec<Array4<f32>>, Vec<LayerRun>)> {
        self.check_input(&x)?;
        nestevo_core::check!(
            self.calibrated,
            "model {}: calibrate the activation scales on sample frames before a crossbar run",
            self.desc.name
        );
        let mut outs: Vec<Array4<f32>> = Vec::with_capacity(self.nodes.len());
        let mut runs = Vec::new();
        for i in 0..self.nodes.len() {
            let name = &self.desc.layers[i].name;
            let get = |s: &Src| match s {
                Src::Input => x.view(),
                Src::Layer(j) => outs[*j].view(),
            };
            let a = get(&self.srcs[i][0]);
            let y = match &mut self.nodes[i] {
                Node::Conv { cim, .. } => {
                    let (y, st) = cim
                        .forward(a)
                        .ctx(|| format!("layer `{name}` on crossbars"))?;
                    runs.push(LayerRun {
                        layer: name.clone(),
                        stats: st,
                    });
                    y
                }
                Node::Linear { cim, .. } => {
                    let (y, st) = cim
                        .forward(float::flatten2(a).view())
                        .ctx(|| format!("layer `{name}` on crossbars"))?;
                    runs.push(LayerRun {
                        layer: name.clone(),
                        stats: st,
                    });
                    float::to4(y)
                }
                Node::Dense { cim, .. } => {
                    let (bs, c, h, _) = a.dim();
                    let (y, st) = cim
                        .forward(rows(a).view())
                        .ctx(|| format!("layer `{name}` on crossbars"))?;
                    runs.push(LayerRun {
                        layer: name.clone(),
                        stats: st,
                    });
                    unrows(y, (bs, c, h))
                }
                Node::Bn(_) if self.folded[i] => a.to_owned(),
                Node::Bn(bn) => bn.apply(a),
                node => {
                    digital_op(node, a, &self.srcs[i], &get).ctx(|| format!("layer `{name}`"))?
                }
            };
            outs.push(y);
        }
        Ok((outs, runs))
    }

    /// The network's outputs (`desc.outputs` order) out of every layer's output.
    pub fn outputs_of(&self, all: Vec<Array4<f32>>) -> Vec<Array4<f32>> {
        self.pick_outputs(all)
    }
}

/// The ops that never touch a crossbar.
fn digital_op<'a>(
    node: &Node,
    a: ArrayView4<'a, f32>,
    srcs: &[Src],
    get: &dyn Fn(&Src) -> ArrayView4<'a, f32>,
) -> Result<Array4<f32>> {
    Ok(match node {
        Node::Relu => a.mapv(|v| v.max(0.0)),
        Node::Relu6 => a.mapv(|v| v.clamp(0.0, 6.0)),
        Node::MaxPool([k, s, p]) => digital::max_pool2d(a, *k, *s, *p)?,
        Node::AvgPool([k, s, p]) => digital::avg_pool2d(a, *k, *s, *p)?,
        Node::Gap => float::global_avg_pool(a),
        Node::Add => digital::add(a, get(&srcs[1]))?,
        Node::Upsample(f) => digital::upsample_nearest(a, *f)?,
        Node::Concat => digital::concat_channels(&srcs.iter().map(get).collect::<Vec<_>>())?,
        Node::Flatten => float::to4(float::flatten2(a)),
        Node::MatMul => digital::matmul(a, get(&srcs[1]))?,
        Node::Act(f) => a.mapv(|v| f.apply(v)),
        Node::Mul => digital::broadcast(a, get(&srcs[1]), |x, y| x * y)?,
        Node::Div => digital::broadcast(a, get(&srcs[1]), |x, y| x / y)?,
        Node::Pad(p, neg_inf) => digital::pad(a, *p, *neg_inf),
        Node::ReduceMean(axes) => digital::reduce_mean(a, *axes),
        Node::Softmax(axis) => digital::softmax(a, *axis),
        Node::LayerNorm { gamma, beta, eps } => digital::layer_norm(a, gamma, beta, *eps),
        Node::Transpose(perm) => digital::transpose(a, *perm),
        Node::Reshape(shape) => digital::reshape(a, *shape)?,
        Node::Slice([axis, start, end, step]) => digital::slice(a, *axis, *start, *end, *step),
        Node::ConcatAxis(axis) => {
            digital::concat_axis(&srcs.iter().map(get).collect::<Vec<_>>(), *axis)?
        }
        Node::Const(v) => {
            let (c, h, w) = v.dim();
            v.broadcast((a.dim().0, c, h, w))
                .expect("a frame broadcasts to a batch")
                .to_owned()
        }
        Node::Conv { .. } | Node::Linear { .. } | Node::Dense { .. } | Node::Bn(_) => {
            return Err(CimError::Internal(
                "a matrix or batch-norm layer reached the digital path".into(),
            ))
        }
    })
}

/// Counts summed over layers (crossbars add up: each layer has its own).
pub fn total(runs: &[LayerRun]) -> LayerStats {
    runs.iter()
        .fold(LayerStats::default(), |acc, r| acc + r.stats)
}

/// Per-layer counts of several runs of the same network merged (a layer's crossbars stay its own).
pub fn merge_runs(acc: &mut Vec<LayerRun>, more: Vec<LayerRun>) {
    if acc.is_empty() {
        *acc = more;
        return;
    }
    for (a, m) in acc.iter_mut().zip(more) {
        a.stats.merge_run(&m.stats);
    }
}
