//! Node-by-node translation of an ONNX graph into layers and their weights.

use super::proto::{read_tensor, Attrs, Const};
use super::OnnxError;
use crate::{LayerDesc, ModelDesc, Op};
use ndarray::{ArrayD, IxDyn};
use onnx_protobuf::{GraphProto, NodeProto};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The batch-norm epsilon of the runner and the trainer (PyTorch's default).
const RUNNER_BN_EPS: f32 = 1e-5;

/// What an ONNX value is bound to.
#[derive(Debug, Clone)]
enum Val {
    Input,
    /// Index into the layers.
    Layer(usize),
    Const(Const),
    /// A further graph input: allowed only where nothing reads it.
    Extra,
}

/// A layer name from an ONNX name: ASCII letters, digits, `_` and `-` (path separators and
/// dots become `_`, which keeps tensor names `LAYER.weight` unambiguous).
pub fn sanitize(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut out = String::with_capacity(mapped.len());
    for c in mapped.chars() {
        if !(c == '_' && out.ends_with('_')) {
            out.push(c);
        }
    }
    out.trim_matches('_').to_string()
}

struct Ctx<'a> {
    file: &'a str,
    name: String,
    vals: HashMap<String, Val>,
    layers: Vec<LayerDesc>,
    /// Output [C, H, W] and ONNX rank (2 for flat features, 4 for feature maps) of each layer.
    shapes: Vec<[usize; 3]>,
    ranks: Vec<usize>,
    input: [usize; 3],
    input_rank: usize,
    names: HashSet<String>,
    weights: BTreeMap<String, ArrayD<f32>>,
    /// How many node inputs and graph outputs read each value.
    readers: HashMap<String, usize>,
}

/// The graph as (description, weights).
pub fn convert(
    g: &GraphProto,
    file: &str,
    name: &str,
) -> Result<(ModelDesc, BTreeMap<String, ArrayD<f32>>), OnnxError> {
    let gerr = |message: String| OnnxError::Graph {
        file: file.to_string(),
        message,
    };
    let mut vals = HashMap::new();
    for t in &g.initializer {
        let c = read_tensor(t).map_err(|m| gerr(format!("initializer: {m}")))?;
        vals.insert(t.name.clone(), Val::Const(c));
    }
    let data_inputs: Vec<_> = g
        .input
        .iter()
        .filter(|i| !vals.contains_key(&i.name))
        .collect();
    let Some(first) = data_inputs.first() else {
        return Err(gerr(
            "the graph has no input that is not an initializer".into(),
        ));
    };
    let (input, input_rank) =
        input_shape(first).map_err(|m| gerr(format!("input `{}`: {m}", first.name)))?;
    vals.insert(first.name.clone(), Val::Input);
    for extra in &data_inputs[1..] {
        vals.insert(extra.name.clone(), Val::Extra);
    }
    let mut readers: HashMap<String, usize> = HashMap::new();
    for n in &g.node {
        for i in n.input.iter().filter(|i| !i.is_empty()) {
            *readers.entry(i.clone()).or_default() += 1;
        }
    }
    for o in &g.output {
        *readers.entry(o.name.clone()).or_default() += 1;
    }
    let mut cx = Ctx {
        file,
        name: name.to_string(),
        vals,
        layers: Vec::new(),
        shapes: Vec::new(),
        ranks: Vec::new(),
        input,
        input_rank,
        names: HashSet::from(["input".to_string()]),
        weights: BTreeMap::new(),
        readers,
    };
    for (i, n) in g.node.iter().enumerate() {
        cx.node(i, n)?;
    }
    let mut outputs = Vec::new();
    for o in &g.output {
        match cx.vals.get(&o.name) {
            Some(Val::Layer(j)) => {
                let l = cx.layers[*j].name.clone();
                if !outputs.contains(&l) {
                    outputs.push(l);
                }
            }
            _ => {
                return Err(gerr(format!(
                    "graph output `{}` is not computed by a layer (it is the input, a constant or \
                     produced by no node)",
                    o.name
                )))
            }
        }
    }
    if cx.layers.is_empty() {
        return Err(gerr("no node became a layer".into()));
    }
    let desc = ModelDesc {
        name: cx.name.clone(),
        input: cx.input,
        layers: cx.layers,
        outputs,
        source: file.to_string(),
    };
    Ok((desc, cx.weights))
}

/// [C, H, W] (or [F, 1, 1] of a [batch, F] input) and the rank, from the input's declared type.
fn input_shape(v: &onnx_protobuf::ValueInfoProto) -> Result<([usize; 3], usize), String> {
    let Some(tp) = v.type_.as_ref().filter(|t| t.has_tensor_type()) else {
        return Err("not a tensor".into());
    };
    let t = tp.tensor_type();
    if t.elem_type != 1 {
        return Err(format!("element type {}; allowed: float (1)", t.elem_type));
    }
    let Some(shape) = t.shape.as_ref() else {
        return Err("its shape is not given; export with a fixed input shape".into());
    };
    let mut dims = Vec::new();
    for (i, d) in shape.dim.iter().enumerate().skip(1) {
        if !d.has_dim_value() || d.dim_value() < 1 {
            return Err(format!(
                "dimension {i} is not fixed (`{}`): C, H and W must be fixed numbers; only the \
                 batch dimension may be symbolic",
                d.dim_param()
            ));
        }
        dims.push(d.dim_value() as usize);
    }
    match dims.as_slice() {
        [c, h, w] => Ok(([*c, *h, *w], 4)),
        [f] => Ok(([*f, 1, 1], 2)),
        _ => Err(format!(
            "rank {}: allowed are [batch, C, H, W] and [batch, features]",
            shape.dim.len()
        )),
    }
}

/// A node's label in errors: its name, or `#index` when it has none.
fn label(i: usize, n: &NodeProto) -> String {
    if n.name.is_empty() {
        format!("#{i}")
    } else {
        n.name.clone()
    }
}

fn arr(dims: &[usize], v: Vec<f32>) -> ArrayD<f32> {
    ArrayD::from_shape_vec(IxDyn(dims), v).expect("sizes checked")
}

impl Ctx<'_> {
    fn node(&mut self, i: usize, n: &NodeProto) -> Result<(), OnnxError> {
        let who = label(i, n);
        let err = |m: String| OnnxError::Node {
            file: self.file.to_string(),
            node: who.clone(),
            op: n.op_type.clone(),
            message: m,
        };
        if !(n.domain.is_empty() || n.domain == "ai.onnx") {
            return Err(OnnxError::Unsupported {
                file: self.file.to_string(),
                node: who,
                op: format!("{}::{}", n.domain, n.op_type),
            });
        }
        let at = Attrs::of(n);
        match n.op_type.as_str() {
            "Conv" => self.conv(i, n, &err)?,
            "Gemm" => {
                if at.int("transA", 0).map_err(&err)? != 0 {
                    return Err(err(
                        "transA = 1: the data operand must not be transposed".into()
                    ));
                }
                let trans_b = at.int("transB", 0).map_err(&err)? != 0;
                let alpha = at.float("alpha").map_err(&err)?.unwrap_or(1.0);
                let beta = at.float("beta").map_err(&err)?.unwrap_or(1.0);
                let b = self.konst(n, 1, "weight B", &err)?.clone();
                let c = match n.input.get(2).filter(|s| !s.is_empty()) {
                    Some(_) => Some(self.konst(n, 2, "bias C", &err)?.clone()),
                    None => None,
                };
                self.linear(i, n, &b, trans_b, alpha, c.as_ref(), beta, &err)?;
            }
            "MatMul" => {
                let b = self.konst(n, 1, "weight (second operand)", &err)?.clone();
                self.linear(i, n, &b, false, 1.0, None, 1.0, &err)?;
            }
            "Add" | "Sum" => self.add(i, n, &err)?,
            "BatchNormalization" => {
                if at.int("training_mode", 0).map_err(&err)? != 0 {
                    return Err(err(
                        "training_mode = 1: export the network in eval mode".into()
                    ));
                }
                self.extra_outputs_unused(n, 1, &err)?;
                let x = self.data(n, 0, &err)?;
                let c = self.shape_of(&x)[0];
                let eps = at.float("epsilon").map_err(&err)?.unwrap_or(1e-5);
                let mut p = Vec::new();
                for (k, what) in ["scale", "bias B", "mean", "var"].iter().enumerate() {
                    let t = self.konst(n, k + 1, what, &err)?;
                    if t.f.len() != c {
                        return Err(err(format!(
                            "{what} has {} values (shape {:?}); the input has {c} channels",
                            t.f.len(),
                            t.dims
                        )));
                    }
                    p.push(t.f.clone());
                }
                // (x - m) / sqrt(v + eps) == (x - m) / sqrt((v + eps - 1e-5) + 1e-5).
                for v in p[3].iter_mut() {
                    *v += eps - RUNNER_BN_EPS;
                    if *v + RUNNER_BN_EPS <= 0.0 {
                        return Err(err("var + epsilon is not positive".into()));
                    }
                }
                let j = self.push(i, n, Op::BatchNorm, vec![x], &err)?;
                let ln = self.layers[j].name.clone();
                for (suffix, v) in ["weight", "bias", "running_mean", "running_var"]
                    .iter()
                    .zip(p)
                {
                    self.weights.insert(format!("{ln}.{suffix}"), arr(&[c], v));
                }
            }
            "Relu" => {
                let x = self.data(n, 0, &err)?;
                self.push(i, n, Op::Relu, vec![x], &err)?;
            }
            "Clip" => {
                let bound = |k: usize, attr: &str, dflt: f32| -> Result<f32, OnnxError> {
                    match n.input.get(k).filter(|s| !s.is_empty()) {
                        Some(_) => {
                            let t = self.konst(n, k, attr, &err)?;
                            t.f.first()
                                .copied()
                                .filter(|_| t.f.len() == 1)
                                .ok_or_else(|| {
                                    err(format!("{attr} must be a scalar, got shape {:?}", t.dims))
                                })
                        }
                        None => Ok(at.float(attr).map_err(&err)?.unwrap_or(dflt)),
                    }
                };
                let (lo, hi) = (
                    bound(1, "min", f32::NEG_INFINITY)?,
                    bound(2, "max", f32::INFINITY)?,
                );
                let op = match (lo, hi) {
                    (0.0, f32::INFINITY) => Op::Relu,
                    (0.0, 6.0) => Op::Relu6,
                    _ => {
                        return Err(err(format!(
                            "Clip({lo}, {hi}): supported are Clip(0, inf) as ReLU and Clip(0, 6) \
                             as ReLU6"
                        )))
                    }
                };
                let x = self.data(n, 0, &err)?;
                self.push(i, n, op, vec![x], &err)?;
            }
            "MaxPool" | "AveragePool" => {
                self.extra_outputs_unused(n, 1, &err)?;
                let x = self.data(n, 0, &err)?;
                let [_, h, w] = self.shape_of(&x);
                let (kernel, stride, padding) = pool_params(&at, [h, w]).map_err(&err)?;
                let op = if n.op_type == "MaxPool" {
                    Op::MaxPool {
                        kernel,
                        stride,
                        padding,
                    }
                } else {
                    if padding > 0 && at.int("count_include_pad", 0).map_err(&err)? == 0 {
                        return Err(err(format!(
                            "count_include_pad = 0 with padding {padding}: the runner's average \
                             pool counts padded zeros (count_include_pad = 1)"
                        )));
                    }
                    Op::AvgPool {
                        kernel,
                        stride,
                        padding,
                    }
                };
                self.push(i, n, op, vec![x], &err)?;
            }
            "GlobalAveragePool" => {
                let x = self.data(n, 0, &err)?;
                self.push(i, n, Op::GlobalAvgPool, vec![x], &err)?;
            }
            "Concat" => {
                let xs = (0..n.input.len())
                    .map(|k| self.data(n, k, &err))
                    .collect::<Result<Vec<_>, _>>()?;
                let rank = self.rank_of(&xs[0]) as i64;
                let axis = at.int("axis", i64::MIN).map_err(&err)?;
                let norm = if axis < 0 { axis + rank } else { axis };
                if norm != 1 {
                    return Err(err(format!(
                        "axis {axis}: only concatenation along channels (axis 1) is supported"
                    )));
                }
                self.push(i, n, Op::Concat, xs, &err)?;
            }
            "Resize" | "Upsample" => self.resize(i, n, &err)?,
            "Flatten" => {
                let axis = at.int("axis", 1).map_err(&err)?;
                if axis != 1 {
                    return Err(err(format!(
                        "axis {axis}: only Flatten(axis = 1) is supported"
                    )));
                }
                let x = self.data(n, 0, &err)?;
                self.push(i, n, Op::Flatten, vec![x], &err)?;
            }
            "Reshape" => {
                let x = self.data(n, 0, &err)?;
                let f: usize = self.shape_of(&x).iter().product();
                let s = self.konst(n, 1, "shape", &err)?;
                let ints = s.ints.clone().unwrap_or_default();
                let ok = match ints.as_slice() {
                    [b, feat] => {
                        let batch_ok = (-1..=1).contains(b);
                        let feat_ok = *feat == f as i64 || (*feat == -1 && *b != -1);
                        batch_ok && feat_ok
                    }
                    _ => false,
                };
                if !ok {
                    return Err(err(format!(
                        "Reshape to {ints:?}: only a flatten to [batch, {f}] (before a linear \
                         layer) is supported"
                    )));
                }
                self.push(i, n, Op::Flatten, vec![x], &err)?;
            }
            "Identity" | "Dropout" => {
                self.extra_outputs_unused(n, 1, &err)?;
                let v = self.lookup(n, 0, &err)?.clone();
                self.bind(n, v);
            }
            "Constant" => {
                let c = if let Some(t) = at.tensor("value").map_err(&err)? {
                    read_tensor(t).map_err(&err)?
                } else if let Some(v) = at.float("value_float").map_err(&err)? {
                    Const {
                        dims: vec![],
                        f: vec![v],
                        ints: None,
                    }
                } else if let Some(v) = at.floats("value_floats").map_err(&err)? {
                    Const {
                        dims: vec![v.len()],
                        f: v,
                        ints: None,
                    }
                } else if let Some(v) = at.ints("value_ints").map_err(&err)? {
                    Const {
                        dims: vec![v.len()],
                        f: v.iter().map(|&x| x as f32).collect(),
                        ints: Some(v),
                    }
                } else if let Some(v) = n.attribute.iter().find(|x| x.name == "value_int") {
                    Const {
                        dims: vec![],
                        f: vec![v.i as f32],
                        ints: Some(vec![v.i]),
                    }
                } else {
                    return Err(err(
                        "a Constant without a value, value_float(s) or value_int(s) attribute"
                            .into(),
                    ));
                };
                self.bind(n, Val::Const(c));
            }
            _ => {
                return Err(OnnxError::Unsupported {
                    file: self.file.to_string(),
                    node: who,
                    op: n.op_type.clone(),
                })
            }
        }
        Ok(())
    }

    /// Binds the node's first output to `v`.
    fn bind(&mut self, n: &NodeProto, v: Val) {
        if let Some(o) = n.output.first() {
            self.vals.insert(o.clone(), v);
        }
    }

    /// Outputs past the first (BatchNorm's running stats, MaxPool's indices, Dropout's mask)
    /// must be read by nobody.
    fn extra_outputs_unused(
        &self,
        n: &NodeProto,
        from: usize,
        err: &dyn Fn(String) -> OnnxError,
    ) -> Result<(), OnnxError> {
        for o in n.output.iter().skip(from).filter(|o| !o.is_empty()) {
            if self.readers.get(o).copied().unwrap_or(0) > 0 {
                return Err(err(format!(
                    "its extra output `{o}` is read: only the first output is supported"
                )));
            }
        }
        Ok(())
    }

    fn lookup<'s>(
        &'s self,
        n: &NodeProto,
        k: usize,
        err: &dyn Fn(String) -> OnnxError,
    ) -> Result<&'s Val, OnnxError> {
        let Some(v) = n.input.get(k).filter(|s| !s.is_empty()) else {
            return Err(err(format!("input {k} is missing")));
        };
        self.vals.get(v).ok_or_else(|| {
            err(format!(
                "input `{v}` is produced by no earlier node (the graph must be in topological order)"
            ))
        })
    }

    /// A tensor the network computes: `"input"` or a layer's name.
    fn data(
        &self,
        n: &NodeProto,
        k: usize,
        err: &dyn Fn(String) -> OnnxError,
    ) -> Result<String, OnnxError> {
        match self.lookup(n, k, err)? {
            Val::Input => Ok("input".into()),
            Val::Layer(j) => Ok(self.layers[*j].name.clone()),
            Val::Const(_) => Err(err(format!(
                "input `{}` is a constant; this operand must be computed by the network",
                n.input[k]
            ))),
            Val::Extra => Err(err(format!(
                "input `{}` is a further graph input; the importer takes one network input",
                n.input[k]
            ))),
        }
    }

    /// A constant operand (a weight, bias, shape or scale).
    fn konst<'s>(
        &'s self,
        n: &NodeProto,
        k: usize,
        what: &str,
        err: &dyn Fn(String) -> OnnxError,
    ) -> Result<&'s Const, OnnxError> {
        match self.lookup(n, k, err)? {
            Val::Const(c) => Ok(c),
            _ => Err(err(format!(
                "{what} `{}` is not a constant (an initializer or Constant): it is computed at \
                 run time or is a graph input, so its shape and values are dynamic; crossbars \
                 are programmed with constant weights of fixed shape",
                n.input[k]
            ))),
        }
    }

    fn index(&self, src: &str) -> Option<usize> {
        self.layers.iter().position(|l| l.name == src)
    }

    fn shape_of(&self, src: &str) -> [usize; 3] {
        self.index(src).map_or(self.input, |j| self.shapes[j])
    }

    fn rank_of(&self, src: &str) -> usize {
        self.index(src).map_or(self.input_rank, |j| self.ranks[j])
    }

    /// Appends a layer named after the node, binds the node's output to it and infers its shape.
    fn push(
        &mut self,
        i: usize,
        n: &NodeProto,
        op: Op,
        inputs: Vec<String>,
        err: &dyn Fn(String) -> OnnxError,
    ) -> Result<usize, OnnxError> {
        let base = match sanitize(&n.name) {
            s if s.is_empty() => format!("{}{i}", n.op_type.to_lowercase()),
            s => s,
        };
        let mut name = base.clone();
        let mut k = 1;
        while self.names.contains(&name) {
            k += 1;
            name = format!("{base}_{k}");
        }
        self.names.insert(name.clone());
        let rank = match op {
            Op::Linear { .. } | Op::Flatten => 2,
            Op::GlobalAvgPool => 4,
            _ => self.rank_of(&inputs[0]),
        };
        self.layers.push(LayerDesc { name, op, inputs });
        let partial = ModelDesc {
            name: self.name.clone(),
            input: self.input,
            layers: self.layers.clone(),
            outputs: vec![],
            source: self.file.to_string(),
        };
        let shapes = partial.shapes().map_err(|e| err(e.message))?;
        let j = self.layers.len() - 1;
        self.shapes.push(shapes[j]);
        self.ranks.push(rank);
        self.bind(n, Val::Layer(j));
        Ok(j)
    }

    fn conv(
        &mut self,
        i: usize,
        n: &NodeProto,
        err: &dyn Fn(String) -> OnnxError,
    ) -> Result<(), OnnxError> {
        let at = Attrs::of(n);
        let x = self.data(n, 0, err)?;
        let w = self.konst(n, 1, "weight W", err)?.clone();
        let [o, cg, kh, kw] = match w.dims.as_slice() {
            [a, b, c, d] => [*a, *b, *c, *d],
            d => {
                return Err(err(format!(
                    "weight of shape {d:?}: only 2-D convolutions (4-D weights) are supported"
                )))
            }
        };
        let b = match n.input.get(2).filter(|s| !s.is_empty()) {
            Some(_) => {
                let b = self.konst(n, 2, "bias B", err)?.clone();
                if b.f.len() != o {
                    return Err(err(format!("bias of shape {:?}; expected [{o}]", b.dims)));
                }
                Some(b)
            }
            None => None,
        };
        if let Some(ks) = at.ints("kernel_shape").map_err(err)? {
            if ks != [kh as i64, kw as i64] {
                return Err(err(format!(
                    "kernel_shape {ks:?} disagrees with the weight's {kh}x{kw}"
                )));
            }
        }
        let groups = at.int("group", 1).map_err(err)?;
        let [c, h, wd] = self.shape_of(&x);
        if groups < 1 || cg * groups as usize != c || o % groups as usize != 0 {
            return Err(err(format!(
                "group {groups} with a weight of {cg} input channels per group does not fit the \
                 input's {c} channels and {o} outputs"
            )));
        }
        let stride = same_pair(&at, "strides", 1).map_err(err)?;
        let dilation = same_pair(&at, "dilations", 1).map_err(err)?;
        let padding = padding(&at, [h, wd], [kh, kw], stride, dilation).map_err(err)?;
        let op = Op::Conv {
            out_channels: o,
            kernel: [kh, kw],
            stride,
            padding,
            dilation,
            groups: groups as usize,
            bias: b.is_some(),
        };
        let j = self.push(i, n, op, vec![x], err)?;
        let ln = self.layers[j].name.clone();
        self.weights
            .insert(format!("{ln}.weight"), arr(&w.dims, w.f));
        if let Some(b) = b {
            self.weights.insert(format!("{ln}.bias"), arr(&[o], b.f));
        }
        Ok(())
    }

    /// Gemm (B transposed or not, alpha, beta * C) or MatMul as a linear layer.
    #[allow(clippy::too_many_arguments)]
    fn linear(
        &mut self,
        i: usize,
        n: &NodeProto,
        b: &Const,
        trans_b: bool,
        alpha: f32,
        c: Option<&Const>,
        beta: f32,
        err: &dyn Fn(String) -> OnnxError,
    ) -> Result<(), OnnxError> {
        let x = self.data(n, 0, err)?;
        let [d0, d1] = match b.dims.as_slice() {
            [a, b] => [*a, *b],
            d => {
                return Err(err(format!(
                    "weight of shape {d:?}: a 2-D matrix is needed"
                )))
            }
        };
        let (out, k) = if trans_b { (d0, d1) } else { (d1, d0) };
        let feats: usize = self.shape_of(&x).iter().product();
        if feats != k {
            return Err(err(format!(
                "weight of shape {:?} takes {k} features; its input has {feats}",
                b.dims
            )));
        }
        // Runner layout: [out, k].
        let w: Vec<f32> = (0..out * k)
            .map(|idx| {
                let (r, col) = (idx / k, idx % k);
                alpha
                    * if trans_b {
                        b.f[r * k + col]
                    } else {
                        b.f[col * out + r]
                    }
            })
            .collect();
        let bias = match c {
            Some(c) => Some(
                broadcast_bias(c, out, false)
                    .map_err(err)?
                    .iter()
                    .map(|v| v * beta)
                    .collect::<Vec<_>>(),
            ),
            None => None,
        };
        let op = Op::Linear {
            out_features: out,
            bias: bias.is_some(),
        };
        let j = self.push(i, n, op, vec![x], err)?;
        let ln = self.layers[j].name.clone();
        self.weights
            .insert(format!("{ln}.weight"), arr(&[out, k], w));
        if let Some(bias) = bias {
            self.weights.insert(format!("{ln}.bias"), arr(&[out], bias));
        }
        Ok(())
    }

    /// Add/Sum of computed tensors, or a constant added to the Conv/linear layer just before
    /// (read by nothing else), which becomes its bias.
    fn add(
        &mut self,
        i: usize,
        n: &NodeProto,
        err: &dyn Fn(String) -> OnnxError,
    ) -> Result<(), OnnxError> {
        let ins: Vec<&str> = n
            .input
            .iter()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .collect();
        let consts: Vec<usize> = (0..ins.len())
            .filter(|&k| matches!(self.vals.get(ins[k]), Some(Val::Const(_))))
            .collect();
        if consts.is_empty() {
            if ins.len() < 2 {
                // A one-input Sum is an identity.
                let v = self.lookup(n, 0, err)?.clone();
                self.bind(n, v);
                return Ok(());
            }
            let xs = (0..ins.len())
                .map(|k| self.data(n, k, err))
                .collect::<Result<Vec<_>, _>>()?;
            self.push(i, n, Op::Add, xs, err)?;
            return Ok(());
        }
        let cannot = || {
            err(
                "an Add of a constant is supported only as the bias of the Conv, MatMul or Gemm \
                 right before it, when nothing else reads that node's output"
                    .into(),
            )
        };
        if ins.len() != 2 || consts.len() != 1 {
            return Err(cannot());
        }
        let other = 1 - consts[0];
        let Some(Val::Layer(j)) = self.vals.get(ins[other]).cloned() else {
            return Err(cannot());
        };
        if self.readers.get(ins[other]).copied().unwrap_or(0) != 1 {
            return Err(cannot());
        }
        let c = match self.vals.get(ins[consts[0]]) {
            Some(Val::Const(c)) => c.clone(),
            _ => unreachable!("classified as a constant"),
        };
        let ln = self.layers[j].name.clone();
        let (out, conv) = match &mut self.layers[j].op {
            Op::Linear { out_features, bias } => {
                *bias = true;
                (*out_features, false)
            }
            Op::Conv {
                out_channels, bias, ..
            } => {
                *bias = true;
                (*out_channels, true)
            }
            _ => return Err(cannot()),
        };
        let add = broadcast_bias(&c, out, conv).map_err(err)?;
        let entry = self
            .weights
            .entry(format!("{ln}.bias"))
            .or_insert_with(|| ArrayD::zeros(IxDyn(&[out])));
        for (b, v) in entry.iter_mut().zip(add) {
            *b += v;
        }
        self.bind(n, Val::Layer(j));
        Ok(())
    }

    fn resize(
        &mut self,
        i: usize,
        n: &NodeProto,
        err: &dyn Fn(String) -> OnnxError,
    ) -> Result<(), OnnxError> {
        let at = Attrs::of(n);
        let mode = at.string("mode", "nearest").map_err(err)?;
        if mode != "nearest" {
            return Err(err(format!(
                "mode `{mode}`: only nearest-neighbour resizing is supported"
            )));
        }
        if n.op_type == "Resize" {
            let ctm = at
                .string("coordinate_transformation_mode", "half_pixel")
                .map_err(err)?;
            let nm = at
                .string("nearest_mode", "round_prefer_floor")
                .map_err(err)?;
            // With an integer scale these pick source pixel floor(x / s), as the runner does.
            let exact = matches!(ctm.as_str(), "half_pixel" | "pytorch_half_pixel")
                || (ctm == "asymmetric" && nm == "floor");
            if !exact {
                return Err(err(format!(
                    "coordinate_transformation_mode `{ctm}` with nearest_mode `{nm}`: supported \
                     are half_pixel, pytorch_half_pixel, and asymmetric with floor"
                )));
            }
        }
        let x = self.data(n, 0, err)?;
        let [c, h, w] = self.shape_of(&x);
        let input = |k: usize| n.input.get(k).filter(|s| !s.is_empty()).is_some();
        // Opset 10 Resize and opset 9 Upsample: (X, scales); opset 11+: (X, roi, scales, sizes).
        let scales_at = if n.op_type == "Upsample" || n.input.len() == 2 {
            1
        } else {
            2
        };
        let mut scales: Option<Vec<f32>> = None;
        if input(scales_at) {
            let s = self.konst(n, scales_at, "scales", err)?;
            if !s.f.is_empty() {
                scales = Some(s.f.clone());
            }
        }
        if scales.is_none() && n.op_type == "Upsample" {
            scales = at.floats("scales").map_err(err)?;
        }
        if scales.is_none() && input(3) {
            let s = self.konst(n, 3, "sizes", err)?;
            let v = s.ints.clone().unwrap_or_default();
            if v.len() != 4 || v[1] != c as i64 {
                return Err(err(format!("sizes {v:?}: expected [batch, {c}, H, W]")));
            }
            scales = Some(vec![
                1.0,
                1.0,
                v[2] as f32 / h as f32,
                v[3] as f32 / w as f32,
            ]);
        }
        let Some(s) = scales else {
            return Err(err("neither scales nor sizes are given as constants".into()));
        };
        let int = |v: f32| (v >= 1.0 && (v - v.round()).abs() < 1e-6).then_some(v.round() as usize);
        match (s.as_slice(), s.get(2).copied().and_then(int)) {
            ([1.0, 1.0, a, b], Some(k)) if a == b => {
                self.push(i, n, Op::Upsample { scale: k }, vec![x], err)?;
                Ok(())
            }
            _ => Err(err(format!(
                "scales {s:?}: only [1, 1, k, k] with an integer k >= 1 is supported"
            ))),
        }
    }
}

/// A bias of `out` values from a constant of shape [out], [1, out] (linear) or [out, 1, 1],
/// [1, out, 1, 1] (conv), or a scalar.
fn broadcast_bias(c: &Const, out: usize, conv: bool) -> Result<Vec<f32>, String> {
    let n = c.f.len();
    if n == 1 {
        return Ok(vec![c.f[0]; out]);
    }
    let d: Vec<usize> = c.dims.iter().copied().filter(|&d| d != 1).collect();
    let trailing_ok = if conv {
        // Channels must be the axis before H, W.
        c.dims.len() >= 3 && c.dims[c.dims.len() - 3] == out
    } else {
        c.dims.last() == Some(&out)
    };
    if d == [out] && n == out && (trailing_ok || c.dims.len() == 1 && !conv) {
        Ok(c.f.clone())
    } else {
        Err(format!(
            "constant of shape {:?} is not a per-output bias of {out} values",
            c.dims
        ))
    }
}

/// An attribute of two equal values (the model format has one stride/dilation for both axes).
fn same_pair(at: &Attrs, name: &str, default: usize) -> Result<usize, String> {
    match at.ints(name)? {
        None => Ok(default),
        Some(v) if v.len() == 2 && v[0] == v[1] && v[0] >= 1 => Ok(v[0] as usize),
        Some(v) => Err(format!(
            "{name} {v:?}: only 2-D with the same value on both axes (>= 1) is supported"
        )),
    }
}

/// One symmetric padding from `pads` or `auto_pad`; asymmetric padding is refused.
fn padding(
    at: &Attrs,
    [h, w]: [usize; 2],
    [kh, kw]: [usize; 2],
    stride: usize,
    dilation: usize,
) -> Result<usize, String> {
    let auto = at.string("auto_pad", "NOTSET")?;
    let pads: Vec<i64> = match auto.as_str() {
        "NOTSET" => at.ints("pads")?.unwrap_or_else(|| vec![0; 4]),
        "VALID" => vec![0; 4],
        "SAME_UPPER" | "SAME_LOWER" => {
            let total = |len: usize, k: usize| -> i64 {
                let out = len.div_ceil(stride);
                ((out - 1) * stride + dilation * (k - 1) + 1) as i64 - len as i64
            };
            let (th, tw) = (total(h, kh).max(0), total(w, kw).max(0));
            let (lo_h, lo_w) = if auto == "SAME_UPPER" {
                (th / 2, tw / 2)
            } else {
                (th - th / 2, tw - tw / 2)
            };
            vec![lo_h, lo_w, th - lo_h, tw - lo_w]
        }
        other => {
            return Err(format!(
                "auto_pad `{other}`: allowed NOTSET, VALID, SAME_UPPER, SAME_LOWER"
            ))
        }
    };
    if pads.len() != 4 || pads.iter().any(|&p| p != pads[0] || p < 0) {
        return Err(format!(
            "pads {pads:?} (auto_pad {auto}): only the same padding on every side of a 2-D \
             window is supported"
        ));
    }
    Ok(pads[0] as usize)
}

/// (kernel, stride, padding) of a 2-D pooling node; ceil_mode only where it changes nothing.
fn pool_params(at: &Attrs, [h, w]: [usize; 2]) -> Result<(usize, usize, usize), String> {
    let ks = at.ints("kernel_shape")?.ok_or("kernel_shape is missing")?;
    if ks.len() != 2 || ks[0] != ks[1] || ks[0] < 1 {
        return Err(format!(
            "kernel_shape {ks:?}: only square 2-D windows are supported"
        ));
    }
    let k = ks[0] as usize;
    let stride = same_pair(at, "strides", 1)?;
    if let Some(d) = at.ints("dilations")? {
        if d.iter().any(|&x| x != 1) {
            return Err(format!(
                "dilations {d:?}: pooling windows must not be dilated"
            ));
        }
    }
    let p = padding(at, [h, w], [k, k], stride, 1)?;
    if at.int("ceil_mode", 0)? != 0 {
        let exact = |len: usize| {
            (len + 2 * p)
                .checked_sub(k)
                .is_some_and(|r| r % stride == 0)
        };
        if !(exact(h) && exact(w)) {
            return Err(format!(
                "ceil_mode = 1 changes the output size here ({h}x{w}, kernel {k}, stride \
                 {stride}, padding {p}); only floor mode is supported"
            ));
        }
    }
    Ok((k, stride, p))
}
