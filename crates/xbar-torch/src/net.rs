//! A whole calibrated network on the device (`cim::NetworkEngine` for `TorchEngine`): the frames
//! go to the device once, every layer's input and output stay there, and only the network's
//! outputs come back. Per layer, the same arithmetic as `cim`'s layer-by-layer path:
//!
//! - conv: x_q = clamp(round(x / s_x), lo, hi) on the layer input [B, C, H, W] (f32 division,
//!   rounding half away from zero, NaN -> 0, as `ActQuant::quantize`), then `im2col` of those
//!   integers (f32 holds them exactly; padding is a quantised 0 either way), then per group the
//!   crossbars' product `TorchMatrix::run_tensor` (i64; the exact f64 product where the kernels'
//!   rule holds, else the bit-serial or analogue tensors), then y = (y_int as f64 * s_w s_x) as
//!   f32 + bias, as `QuantMatrix::forward`; linear and dense the same on flattened rows;
//! - batch-norm (unfolded): ((x - mean) * inv) * gamma + beta with inv = 1 / sqrt(var + eps)
//!   computed on the host in f32 as `BatchNorm::apply`; a folded one is the identity;
//! - max and average pools as k * k shifted strided views combined in the host's (i, j) order
//!   (max as `fmax`, which ignores NaN as Rust's `max`; the mean's sum from 0 then / k^2, padding
//!   adding exact zeros), the global average pool as ndarray's eightfold unrolled sum of each
//!   plane (lanes j = 0..8 summed in order, then (l0 + l4), (l1 + l5), ... and the tail) / HW;
//! - relu (`fmax` with 0), relu6, add, mul, div, concat, upsample (by expand), flatten, pad,
//!   transpose, reshape, slice, constants and the affine, hard-sigmoid and hard-swish activations:
//!   element-wise IEEE f32 operations in the host's order, divisors as device tensors (CUDA
//!   multiplies by the reciprocal of a host scalar divisor, which rounds differently).
//!
//! Every step is the host's f32 or f64 operation in the host's order, so the outputs are bit for
//! bit the host path's on the same engine (noiseless; with cell noise the analogue tensors are
//! the same code on the same data either way). Not covered (the network then runs layer by
//! layer, said once on stderr): matmul of two activations, softmax, layer-norm, reduce-mean and
//! the transcendental activations (sigmoid, tanh, erf, gelu), whose device reductions or
//! functions round differently from the host's. Counts come from the same `run_tensor` calls and
//! shapes as the host's: equal.

use super::{engine_err, TorchEngine, TorchMatrix};
use crate::matrix::round_half_away;
use ndarray::{Array4, ArrayView4};
use nestevo_cim::layer::QuantMatrix;
use nestevo_cim::network::{float, LayerRun};
use nestevo_cim::{ActQuant, CimError, LayerStats, NetPlan, NetRun, NetworkEngine, Node};
use nestevo_kernels::InputMode;
use nestevo_model::{Act, Src};
use tch::{Device, Kind, TchError, Tensor};

type R<T> = Result<T, CimError>;

fn tch(e: TchError) -> CimError {
    CimError::from(engine_err(e))
}

/// The torch matrix behind a programmed layer, if it is one on `device`.
fn torch_matrix(qm: &QuantMatrix, device: Device) -> Option<&TorchMatrix> {
    qm.matrix()
        .engine_matrix()
        .as_any()?
        .downcast_ref::<TorchMatrix>()
        .filter(|m| m.device() == device)
}

/// Why `plan` cannot run whole on `device`, naming the first layer that stops it.
fn uncovered(plan: &NetPlan<'_>, device: Device) -> Option<String> {
    for l in &plan.layers {
        let why = match l.node {
            Node::Conv { cim, .. } => cim
                .groups()
                .iter()
                .all(|g| torch_matrix(g, device).is_some())
                .then_some(())
                .ok_or("a crossbar group is not a torch matrix on the engine's device"),
            Node::Linear { cim, .. } | Node::Dense { cim, .. } => {
                torch_matrix(cim.quant_matrix(), device)
                    .map(|_| ())
                    .ok_or("its crossbars are not a torch matrix on the engine's device")
            }
            Node::MatMul => Err("matmul of two activations (f32 summation order)"),
            Node::Softmax(_) => Err("softmax (f32 summation order)"),
            Node::LayerNorm { .. } => Err("layer-norm (f32 summation order)"),
            Node::ReduceMean(_) => Err("reduce-mean (f32 summation order)"),
            Node::Act(Act::Sigmoid | Act::Tanh | Act::Erf | Act::Gelu | Act::Exp) => {
                Err("a transcendental activation (the device's functions round differently)")
            }
            _ => Ok(()),
        };
        if let Err(why) = why {
            return Some(format!("layer `{}` ({}): {why}", l.name, op_name(l.node)));
        }
    }
    None
}

fn op_name(n: &Node) -> &'static str {
    match n {
        Node::Conv { .. } => "conv",
        Node::Linear { .. } => "linear",
        Node::Dense { .. } => "dense",
        Node::MatMul => "matmul",
        Node::Softmax(_) => "softmax",
        Node::LayerNorm { .. } => "layernorm",
        Node::ReduceMean(_) => "reducemean",
        Node::Act(a) => a.kind(),
        _ => "digital",
    }
}

impl NetworkEngine for TorchEngine {
    fn forward(&self, plan: &NetPlan<'_>, x: ArrayView4<f32>) -> R<NetRun> {
        if let Some(why) = uncovered(plan, self.device) {
            return Ok(NetRun::Uncovered(why));
        }
        let _g = tch::no_grad_guard();
        let (outputs, runs) = Forward {
            dev: self.device,
            plan,
        }
        .run(x)?;
        Ok(NetRun::Done { outputs, runs })
    }
}

struct Forward<'p, 'a> {
    dev: Device,
    plan: &'p NetPlan<'a>,
}

impl Forward<'_, '_> {
    fn run(&self, x: ArrayView4<f32>) -> R<(Vec<Array4<f32>>, Vec<LayerRun>)> {
        let dev = self.dev;
        let n = self.plan.layers.len();
        // The last layer reading each output: a tensor is freed after it (outputs are kept).
        let mut last = vec![0usize; n];
        for (i, l) in self.plan.layers.iter().enumerate() {
            for s in l.srcs {
                if let Src::Layer(j) = s {
                    last[*j] = i;
                }
            }
        }
        for &o in &self.plan.outputs {
            last[o] = usize::MAX;
        }
        let input = upload(x, dev).map_err(tch)?;
        let mut outs: Vec<Option<Tensor>> = Vec::with_capacity(n);
        let mut runs = Vec::new();
        for (i, l) in self.plan.layers.iter().enumerate() {
            let get = |s: &Src| -> R<&Tensor> {
                match s {
                    Src::Input => Ok(&input),
                    Src::Layer(j) => outs[*j]
                        .as_ref()
                        .ok_or_else(|| CimError::Internal(format!("layer {j} freed early"))),
                }
            };
            let a = get(&l.srcs[0])?;
            let y = match l.node {
                Node::Conv { cim, .. } => {
                    let act = calibrated(cim.act_quant(), l.name)?;
                    let (y, st) = self.conv(cim, a, &act).map_err(|e| at(l.name, e))?;
                    runs.push(LayerRun {
                        layer: l.name.to_string(),
                        stats: st,
                    });
                    y
                }
                Node::Linear { cim, .. } | Node::Dense { cim, .. } => {
                    let act = calibrated(cim.act_quant(), l.name)?;
                    let s = a.size();
                    let dense = matches!(l.node, Node::Dense { .. });
                    // Linear: [B, C*H*W]; dense: every row of the last axis, [B*C*H, W].
                    let rows = match dense {
                        true => a.f_reshape([-1, s[3]]),
                        false => a.f_reshape([s[0], -1]),
                    }
                    .map_err(tch)?;
                    let (y, st) = self
                        .matrix(cim.quant_matrix(), &rows, &act, cim.bias())
                        .map_err(|e| at(l.name, e))?;
                    runs.push(LayerRun {
                        layer: l.name.to_string(),
                        stats: st,
                    });
                    let shape = match dense {
                        true => vec![s[0], s[1], s[2], -1],
                        false => vec![s[0], -1, 1, 1],
                    };
                    y.f_reshape(shape).map_err(tch)?
                }
                Node::Bn(_) if l.folded => a.shallow_clone(),
                node => self
                    .digital(node, a, l.srcs, &get)
                    .map_err(|e| at(l.name, e))?,
            };
            outs.push(Some(y));
            for s in l.srcs {
                if let Src::Layer(j) = s {
                    if last[*j] == i {
                        outs[*j] = None;
                    }
                }
            }
        }
        let heads = self
            .plan
            .outputs
            .iter()
            .map(|&o| {
                let t = outs[o]
                    .as_ref()
                    .ok_or_else(|| CimError::Internal(format!("output {o} freed")))?;
                download(t).map_err(tch)
            })
            .collect::<R<Vec<_>>>()?;
        Ok((heads, runs))
    }

    /// x [B, Cin, H, W] -> [B, Cout, Ho, Wo] on the crossbars, and the layer's counts.
    fn conv(
        &self,
        cim: &nestevo_cim::CimConv2d,
        x: &Tensor,
        act: &ActQuant,
    ) -> R<(Tensor, LayerStats)> {
        let s = x.size();
        let (cin, cout) = cim.channels();
        if s.len() != 4 || s[1] != cin as i64 {
            return Err(CimError::Invalid(format!(
                "convolution input of shape {s:?}: the layer takes {cin} channels"
            )));
        }
        let (b, h, w) = (s[0] as usize, s[2] as usize, s[3] as usize);
        let (kh, kw) = cim.kernel();
        let sh = cim.shape();
        let (ho, wo) = sh.output(h, w, kh, kw)?;
        let groups = cim.groups();
        let g = groups.len();
        let (cin_g, cout_g) = (cin / g, cout / g);
        let q = quantize(x, act, self.dev).map_err(tch)?;
        let i64p = |p: (usize, usize)| [p.0 as i64, p.1 as i64];
        let mut ys = Vec::with_capacity(g);
        let mut stats = LayerStats::default();
        for (gi, qm) in groups.iter().enumerate() {
            // [B, K, L] in (channel, kernel row, kernel column) x (oy, ox) order, as `im2col`.
            let cols = q
                .f_narrow(1, (gi * cin_g) as i64, cin_g as i64)
                .and_then(|t| {
                    t.f_im2col(
                        i64p((kh, kw)),
                        i64p(sh.dilation),
                        i64p(sh.padding),
                        i64p(sh.stride),
                    )
                })
                .and_then(|t| t.f_transpose(1, 2))
                .and_then(|t| t.f_reshape([(b * ho * wo) as i64, -1]))
                .map_err(tch)?;
            let bias = cim
                .bias()
                .slice(ndarray::s![gi * cout_g..(gi + 1) * cout_g])
                .to_owned();
            let (y, st) = self.matrix_q(qm, &cols, act, &bias)?;
            stats += st;
            ys.push(
                y.f_reshape([b as i64, ho as i64, wo as i64, cout_g as i64])
                    .and_then(|t| t.f_permute([0, 3, 1, 2]))
                    .map_err(tch)?,
            );
        }
        let y = match ys.len() {
            1 => ys.pop().expect("one group"),
            _ => Tensor::f_cat(&ys, 1).map_err(tch)?,
        }
        .f_contiguous()
        .map_err(tch)?;
        // The groups work side by side: a frame's vectors are its output positions.
        stats.vectors = (b * ho * wo) as u64;
        Ok((y, stats))
    }

    /// Float rows [M, K] through a quantised matrix: [M, N] with the bias, and the counts.
    fn matrix(
        &self,
        qm: &QuantMatrix,
        rows: &Tensor,
        act: &ActQuant,
        bias: &ndarray::Array1<f32>,
    ) -> R<(Tensor, LayerStats)> {
        let q = quantize(rows, act, self.dev).map_err(tch)?;
        self.matrix_q(qm, &q, act, bias)
    }

    /// Quantised rows [M, K] (integers in f32) through the crossbars, rescaled, plus the bias.
    fn matrix_q(
        &self,
        qm: &QuantMatrix,
        q: &Tensor,
        act: &ActQuant,
        bias: &ndarray::Array1<f32>,
    ) -> R<(Tensor, LayerStats)> {
        let m = torch_matrix(qm, self.dev)
            .ok_or_else(|| CimError::Internal("a crossbar matrix left the device".into()))?;
        let mode = match act.signed {
            true => InputMode::Signed,
            false => InputMode::Unsigned,
        };
        let xi = q.f_to_kind(Kind::Int64).map_err(tch)?;
        let (y, st) = m.run_tensor(&xi, mode, qm.matrix().read_noise())?;
        let bias = Tensor::f_from_slice(bias.as_slice().expect("owned bias"))
            .and_then(|t| t.f_to_device(self.dev))
            .map_err(tch)?;
        let y = y.f_to_kind(Kind::Double).map_err(tch)?;
        // y[b, n] * s_w[n] * s_x in f64, as `cim`'s `WeightQuant::dequantize`.
        let y = match &qm.wq.columns {
            None => y.f_mul_scalar(qm.wq.scale as f64 * act.scale as f64),
            Some(cols) => {
                let s: Vec<f64> = cols.iter().map(|&c| c as f64 * act.scale as f64).collect();
                Tensor::f_from_slice(&s)
                    .and_then(|t| t.f_to_device(self.dev))
                    .and_then(|t| y.f_mul(&t))
            }
        };
        let y = y
            .and_then(|t| t.f_to_kind(Kind::Float))
            .and_then(|t| t.f_add(&bias))
            .map_err(tch)?;
        Ok((y, st))
    }

    /// The layers that never touch a crossbar, as `cim`'s `digital_op` computes them.
    fn digital<'t>(
        &self,
        node: &Node,
        a: &'t Tensor,
        srcs: &[Src],
        get: &dyn Fn(&Src) -> R<&'t Tensor>,
    ) -> R<Tensor> {
        let dev = self.dev;
        let scalar = |v: f32| Tensor::f_from_slice(&[v]).and_then(|t| t.f_to_device(dev));
        let second = || get(&srcs[1]);
        let y = match node {
            Node::Bn(bn) => {
                let c = bn.gamma.len();
                // The host's per-channel constants, in f32 as `BatchNorm::apply` makes them.
                let inv: Vec<f32> = bn
                    .var
                    .iter()
                    .map(|&v| 1.0 / (v + float::BN_EPS).sqrt())
                    .collect();
                let chan = |v: &[f32]| {
                    Tensor::f_from_slice(v)
                        .and_then(|t| t.f_to_device(dev))
                        .and_then(|t| t.f_reshape([1, c as i64, 1, 1]))
                };
                let v = |a: &ndarray::Array1<f32>| chan(&a.to_vec());
                (|| {
                    a.f_sub(&v(&bn.mean)?)?
                        .f_mul(&chan(&inv)?)?
                        .f_mul(&v(&bn.gamma)?)?
                        .f_add(&v(&bn.beta)?)
                })()
            }
            Node::Relu => a.f_fmax(&scalar(0.0).map_err(tch)?),
            Node::Relu6 => a.f_clamp(0.0, 6.0),
            Node::MaxPool([k, s, p]) | Node::AvgPool([k, s, p]) => {
                let sz = a.size();
                let side = sz[2].min(sz[3]) as usize;
                if *k == 0 || *s == 0 || side + 2 * p < *k {
                    return Err(CimError::Invalid(format!(
                        "pooling window {k} (stride {s}, padding {p}) does not fit a side of {side}"
                    )));
                }
                pool(a, *k, *s, *p, matches!(node, Node::MaxPool(_)), dev)
            }
            Node::Gap => gap(a, dev),
            Node::Add => {
                let b = second()?;
                if a.size() != b.size() {
                    return Err(CimError::Invalid(format!(
                        "residual add of shapes {:?} and {:?}: they must be equal",
                        a.size(),
                        b.size()
                    )));
                }
                a.f_add(b)
            }
            Node::Upsample(f) => {
                let f = *f as i64;
                if f == 0 {
                    return Err(CimError::Invalid("upsampling factor must be >= 1".into()));
                }
                let s = a.size();
                a.f_reshape([s[0], s[1], s[2], 1, s[3], 1])
                    .and_then(|t| t.f_expand([s[0], s[1], s[2], f, s[3], f], false))
                    .and_then(|t| t.f_reshape([s[0], s[1], s[2] * f, s[3] * f]))
            }
            Node::Concat | Node::ConcatAxis(_) => {
                let axis = match node {
                    Node::ConcatAxis(ax) => *ax as i64 + 1,
                    _ => 1,
                };
                let xs = srcs.iter().map(get).collect::<R<Vec<_>>>()?;
                let s0 = xs[0].size();
                for t in &xs {
                    let s = t.size();
                    let other = (0..4).filter(|&d| d != axis as usize);
                    if other.clone().any(|d| s[d] != s0[d]) {
                        return Err(CimError::Invalid(format!(
                            "concatenation of {s0:?} with {s:?}: the other axes must agree"
                        )));
                    }
                }
                Tensor::f_cat(&xs, axis)
            }
            Node::Flatten => a.f_reshape([a.size()[0], -1, 1, 1]),
            Node::Act(f) => act(a, *f, dev),
            Node::Mul | Node::Div => {
                let b = second()?;
                let (da, db) = (a.size(), b.size());
                if (0..4).any(|i| da[i] != db[i] && da[i] != 1 && db[i] != 1) {
                    return Err(CimError::Invalid(format!(
                        "element-wise product of shapes {da:?} and {db:?}: axes must be equal or 1"
                    )));
                }
                match node {
                    Node::Mul => a.f_mul(b),
                    _ => a.f_div(b),
                }
            }
            Node::Pad(p, neg_inf) => {
                let fill = if *neg_inf { f64::NEG_INFINITY } else { 0.0 };
                a.f_constant_pad_nd([p[1] as i64, p[3] as i64, p[0] as i64, p[2] as i64])
                    .and_then(|t| {
                        // constant_pad_nd pads with zeros; -inf padding is filled in after.
                        if *neg_inf {
                            let s = a.size();
                            let inside = Tensor::f_ones(s.as_slice(), (Kind::Bool, dev))?
                                .f_constant_pad_nd([
                                    p[1] as i64,
                                    p[3] as i64,
                                    p[0] as i64,
                                    p[2] as i64,
                                ])?;
                            t.f_masked_fill(&inside.f_logical_not()?, fill)
                        } else {
                            Ok(t)
                        }
                    })
            }
            Node::Transpose(perm) => a
                .f_permute([
                    0,
                    perm[0] as i64 + 1,
                    perm[1] as i64 + 1,
                    perm[2] as i64 + 1,
                ])
                .and_then(|t| t.f_contiguous()),
            Node::Reshape(shape) => {
                let s = a.size();
                let want: i64 = shape.iter().map(|&v| v as i64).product();
                if s[1] * s[2] * s[3] != want {
                    return Err(CimError::Invalid(format!(
                        "reshape of {s:?} to [B, {shape:?}]: the element counts differ"
                    )));
                }
                a.f_reshape([s[0], shape[0] as i64, shape[1] as i64, shape[2] as i64])
            }
            Node::Slice([axis, start, end, step]) => a
                .f_slice(*axis as i64 + 1, *start as i64, *end as i64, *step as i64)
                .and_then(|t| t.f_contiguous()),
            Node::Const(v) => {
                let (c, h, w) = v.dim();
                let b = a.size()[0];
                let data = v.as_standard_layout();
                Tensor::f_from_slice(data.as_slice().expect("standard layout"))
                    .and_then(|t| t.f_to_device(dev))
                    .and_then(|t| t.f_reshape([1, c as i64, h as i64, w as i64]))
                    .and_then(|t| t.f_expand([b, c as i64, h as i64, w as i64], false))
                    .and_then(|t| t.f_contiguous())
            }
            Node::Conv { .. }
            | Node::Linear { .. }
            | Node::Dense { .. }
            | Node::MatMul
            | Node::Softmax(_)
            | Node::LayerNorm { .. }
            | Node::ReduceMean(_) => {
                return Err(CimError::Internal(format!(
                    "{} reached the device's digital path",
                    op_name(node)
                )))
            }
        };
        y.map_err(tch)
    }
}

fn calibrated(a: Option<ActQuant>, name: &str) -> R<ActQuant> {
    a.ok_or_else(|| {
        CimError::Invalid(format!(
            "layer `{name}`: calibrate the activation scales before a crossbar run"
        ))
    })
}

fn at(name: &str, e: CimError) -> CimError {
    CimError::Context {
        context: format!("layer `{name}` on the device"),
        inner: Box::new(e),
    }
}

/// `ActQuant::quantize` on the device, the integers kept in f32 (exact below 2^24).
fn quantize(x: &Tensor, act: &ActQuant, dev: Device) -> Result<Tensor, TchError> {
    let (lo, hi) = act.range();
    let scale = Tensor::f_from_slice(&[act.scale])?.f_to_device(dev)?;
    let r = round_half_away(&x.f_div(&scale)?)?.f_clamp(lo as f64, hi as f64)?;
    // `NaN as i64` is 0 on the host.
    r.f_nan_to_num(0.0, hi as f64, lo as f64)
}

/// Max or mean over k x k windows (stride, zero or -inf padding) in the host's (i, j) order.
fn pool(
    x: &Tensor,
    k: usize,
    s: usize,
    p: usize,
    max: bool,
    dev: Device,
) -> Result<Tensor, TchError> {
    let sz = x.size();
    let (h, w) = (sz[2] as usize, sz[3] as usize);
    if k == 0 || s == 0 || h + 2 * p < k || w + 2 * p < k {
        return Err(TchError::Kind(format!(
            "pooling window {k} (stride {s}, padding {p}) does not fit a side of {}",
            h.min(w)
        )));
    }
    let (ho, wo) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1);
    let pi = p as i64;
    let xp = x.f_constant_pad_nd([pi, pi, pi, pi])?;
    let xp = if max && p > 0 {
        let inside = Tensor::f_ones(sz.as_slice(), (Kind::Bool, dev))?
            .f_constant_pad_nd([pi, pi, pi, pi])?;
        xp.f_masked_fill(&inside.f_logical_not()?, f64::NEG_INFINITY)?
    } else {
        xp
    };
    let mut acc = match max {
        true => Tensor::f_full(
            [sz[0], sz[1], ho as i64, wo as i64],
            f64::NEG_INFINITY,
            (Kind::Float, dev),
        )?,
        false => Tensor::f_zeros([sz[0], sz[1], ho as i64, wo as i64], (Kind::Float, dev))?,
    };
    for i in 0..k {
        for j in 0..k {
            let v = xp
                .f_slice(2, i as i64, (i + s * (ho - 1) + 1) as i64, s as i64)?
                .f_slice(3, j as i64, (j + s * (wo - 1) + 1) as i64, s as i64)?;
            acc = match max {
                true => acc.f_fmax(&v)?,
                false => acc.f_add(&v)?,
            };
        }
    }
    match max {
        true => Ok(acc),
        false => acc.f_div(&Tensor::f_from_slice(&[(k * k) as f32])?.f_to_device(dev)?),
    }
}

/// Each plane's mean as ndarray's `sum` of a contiguous slice makes it (eight lanes summed in
/// order, combined (l0 + l4) + (l1 + l5) + ... onto 0, then the tail), / HW: [B, C, 1, 1].
fn gap(x: &Tensor, dev: Device) -> Result<Tensor, TchError> {
    let s = x.size();
    let hw = s[2] * s[3];
    let flat = x.f_reshape([s[0], s[1], hw])?;
    let full = hw / 8 * 8;
    let mut lanes = Tensor::f_zeros([s[0], s[1], 8], (Kind::Float, dev))?;
    for i in (0..full).step_by(8) {
        lanes = lanes.f_add(&flat.f_narrow(2, i, 8)?)?;
    }
    let lane = |j: i64| lanes.f_narrow(2, j, 1);
    let mut acc = Tensor::f_zeros([s[0], s[1], 1], (Kind::Float, dev))?;
    for j in 0..4 {
        acc = acc.f_add(&lane(j)?.f_add(&lane(j + 4)?)?)?;
    }
    for i in full..hw {
        acc = acc.f_add(&flat.f_narrow(2, i, 1)?)?;
    }
    acc.f_div(&Tensor::f_from_slice(&[hw as f32])?.f_to_device(dev)?)?
        .f_reshape([s[0], s[1], 1, 1])
}

/// The activations whose host formulas are single IEEE operations (see `Act::apply`).
fn act(x: &Tensor, f: Act, dev: Device) -> Result<Tensor, TchError> {
    match f {
        Act::Affine { alpha, beta } => x.f_mul_scalar(alpha as f64)?.f_add_scalar(beta as f64),
        Act::HardSigmoid { alpha, beta } => x
            .f_mul_scalar(alpha as f64)?
            .f_add_scalar(beta as f64)?
            .f_clamp(0.0, 1.0),
        Act::HardSwish => {
            let six = Tensor::f_from_slice(&[6f32])?.f_to_device(dev)?;
            x.f_mul(&x.f_div(&six)?.f_add_scalar(0.5)?.f_clamp(0.0, 1.0)?)
        }
        // IEEE square root is correctly rounded on host and device alike.
        Act::Sqrt => x.f_sqrt(),
        Act::Clip { min, max } => x.f_clamp(min as f64, max as f64),
        other => Err(TchError::Kind(format!(
            "activation {} is not covered on the device",
            other.kind()
        ))),
    }
}

/// Host frames [B, C, H, W] onto the device, once.
fn upload(x: ArrayView4<f32>, dev: Device) -> Result<Tensor, TchError> {
    let (b, c, h, w) = x.dim();
    let xs = x.as_standard_layout();
    Tensor::f_from_slice(xs.as_slice().expect("standard layout"))?
        .f_reshape([b as i64, c as i64, h as i64, w as i64])?
        .f_to_device(dev)
}

/// A network output back to the host.
fn download(t: &Tensor) -> Result<Array4<f32>, TchError> {
    let s = t.size();
    let host = t
        .f_to_device(Device::Cpu)?
        .f_contiguous()?
        .f_reshape([-1])?;
    let v = Vec::<f32>::try_from(host)?;
    let d = |i: usize| s[i] as usize;
    Array4::from_shape_vec((d(0), d(1), d(2), d(3)), v)
        .map_err(|e| TchError::Kind(format!("output shape {s:?}: {e}")))
}
