//! What the op converters share: the values bound so far, the layers and weights built, the
//! node being converted (its attributes and how its errors read) and the window/bias helpers.

use super::proto::{Attrs, Const};
use super::OnnxError;
use crate::{LayerDesc, ModelDesc, Op};
use ndarray::{ArrayD, IxDyn};
use onnx_protobuf::{NodeProto, TensorProto};
use std::collections::{BTreeMap, HashMap, HashSet};

/// What an ONNX value is bound to.
#[derive(Debug, Clone)]
pub enum Val {
    Input,
    /// Index into the layers.
    Layer(usize),
    Const(Const),
    /// A further graph input: allowed only where nothing reads it.
    Extra,
}

/// The conversion so far: every ONNX value's binding and the layers, shapes and weights built.
pub struct Ctx<'a> {
    file: &'a str,
    pub name: String,
    pub vals: HashMap<String, Val>,
    pub layers: Vec<LayerDesc>,
    /// Output [C, H, W] and ONNX dims (of one frame: the graph at batch 1) of each layer; the
    /// [C, H, W] is always `frame(dims)`, so an op reads its ONNX axes through `frame_axis`.
    shapes: Vec<[usize; 3]>,
    dims: Vec<Vec<usize>>,
    pub input: [usize; 3],
    input_dims: Vec<usize>,
    names: HashSet<String>,
    pub weights: BTreeMap<String, ArrayD<f32>>,
    /// How many node inputs and graph outputs read each value.
    pub readers: HashMap<String, usize>,
    /// The graph's opset of the default domain (some ops changed meaning between opsets).
    pub opset: i64,
}

/// The node being converted: its position, protobuf and attributes, and how its errors read.
pub struct Node<'a> {
    /// Its position in the graph (names unnamed layers).
    pub index: usize,
    pub proto: &'a NodeProto,
    pub attrs: Attrs<'a>,
    file: &'a str,
    /// Its name, or `#index` when it has none.
    label: String,
}

impl<'a> Node<'a> {
    pub fn new(index: usize, proto: &'a NodeProto, file: &'a str) -> Self {
        let label = if proto.name.is_empty() {
            format!("#{index}")
        } else {
            proto.name.clone()
        };
        Node {
            index,
            proto,
            attrs: Attrs::of(proto),
            file,
            label,
        }
    }

    /// An error about this node: the file, its label and op type, and `message`.
    pub fn err(&self, message: String) -> OnnxError {
        OnnxError::Node {
            file: self.file.to_string(),
            node: self.label.clone(),
            op: self.proto.op_type.clone(),
            message,
        }
    }

    /// An error saying that `op` (the node's type, after its domain if not the default one)
    /// is not mapped; it lists the ops that are.
    pub fn unsupported(&self, op: String) -> OnnxError {
        OnnxError::Unsupported {
            file: self.file.to_string(),
            node: self.label.clone(),
            op,
        }
    }

    /// Whether optional input `k` is given (present and not the empty name).
    pub fn has_input(&self, k: usize) -> bool {
        self.proto.input.get(k).is_some_and(|s| !s.is_empty())
    }

    // The attribute readers, with their errors naming this node.

    pub fn int(&self, name: &str, default: i64) -> Result<i64, OnnxError> {
        self.attrs.int(name, default).map_err(|m| self.err(m))
    }

    pub fn float(&self, name: &str) -> Result<Option<f32>, OnnxError> {
        self.attrs.float(name).map_err(|m| self.err(m))
    }

    pub fn ints(&self, name: &str) -> Result<Option<Vec<i64>>, OnnxError> {
        self.attrs.ints(name).map_err(|m| self.err(m))
    }

    pub fn floats(&self, name: &str) -> Result<Option<Vec<f32>>, OnnxError> {
        self.attrs.floats(name).map_err(|m| self.err(m))
    }

    pub fn string(&self, name: &str, default: &str) -> Result<String, OnnxError> {
        self.attrs.string(name, default).map_err(|m| self.err(m))
    }

    pub fn tensor(&self, name: &str) -> Result<Option<&'a TensorProto>, OnnxError> {
        self.attrs.tensor(name).map_err(|m| self.err(m))
    }
}

/// A weight tensor of shape `dims` (its value count checked by the caller).
pub fn arr(dims: &[usize], v: Vec<f32>) -> ArrayD<f32> {
    ArrayD::from_shape_vec(IxDyn(dims), v).expect("sizes checked")
}

impl<'a> Ctx<'a> {
    /// Nothing converted yet: `vals` holds the initializers and graph inputs, `readers` how
    /// often each value is read.
    pub fn new(
        file: &'a str,
        name: &str,
        vals: HashMap<String, Val>,
        input_dims: Vec<usize>,
        readers: HashMap<String, usize>,
        opset: i64,
    ) -> Self {
        Ctx {
            file,
            name: name.to_string(),
            vals,
            layers: Vec::new(),
            shapes: Vec::new(),
            dims: Vec::new(),
            input: frame(&input_dims),
            input_dims: std::iter::once(1).chain(input_dims).collect(),
            names: HashSet::from(["input".to_string()]),
            weights: BTreeMap::new(),
            readers,
            opset,
        }
    }

    /// Binds the node's first output to `v`.
    pub fn bind(&mut self, node: &Node, v: Val) {
        if let Some(o) = node.proto.output.first() {
            self.vals.insert(o.clone(), v);
        }
    }

    /// Outputs past the first (BatchNorm's running stats, MaxPool's indices, Dropout's mask)
    /// must be read by nobody.
    pub fn extra_outputs_unused(&self, node: &Node, from: usize) -> Result<(), OnnxError> {
        for o in node
            .proto
            .output
            .iter()
            .skip(from)
            .filter(|o| !o.is_empty())
        {
            if self.readers.get(o).copied().unwrap_or(0) > 0 {
                return Err(node.err(format!(
                    "its extra output `{o}` is read: only the first output is supported"
                )));
            }
        }
        Ok(())
    }

    /// What input `k` is bound to.
    pub fn lookup(&self, node: &Node, k: usize) -> Result<&Val, OnnxError> {
        let Some(v) = node.proto.input.get(k).filter(|s| !s.is_empty()) else {
            return Err(node.err(format!("input {k} is missing")));
        };
        self.vals.get(v).ok_or_else(|| {
            node.err(format!(
                "input `{v}` is produced by no earlier node (the graph must be in topological order)"
            ))
        })
    }

    /// A tensor the network computes: `"input"` or a layer's name.
    pub fn data(&self, node: &Node, k: usize) -> Result<String, OnnxError> {
        match self.lookup(node, k)? {
            Val::Input => Ok("input".into()),
            Val::Layer(j) => Ok(self.layers[*j].name.clone()),
            Val::Const(_) => Err(node.err(format!(
                "input `{}` is a constant; this operand must be computed by the network",
                node.proto.input[k]
            ))),
            Val::Extra => Err(node.err(format!(
                "input `{}` is a further graph input; the importer takes one network input",
                node.proto.input[k]
            ))),
        }
    }

    /// A constant operand (a weight, bias, shape or scale).
    pub fn konst(&self, node: &Node, k: usize, what: &str) -> Result<&Const, OnnxError> {
        match self.lookup(node, k)? {
            Val::Const(c) => Ok(c),
            _ => Err(node.err(format!(
                "{what} `{}` is not a constant (an initializer or Constant): it is computed at \
                 run time or is a graph input, so its shape and values are dynamic; crossbars \
                 are programmed with constant weights of fixed shape",
                node.proto.input[k]
            ))),
        }
    }

    /// `konst`, owned: taken out of the table where this node is the constant's only reader (a
    /// layer's weights, read once: ResNet-50's 100 MB are not copied again), else a copy.
    pub fn konst_owned(&mut self, node: &Node, k: usize, what: &str) -> Result<Const, OnnxError> {
        let c = self.konst(node, k, what)?;
        let name = &node.proto.input[k];
        if self.readers.get(name) != Some(&1) {
            return Ok(c.clone());
        }
        match self.vals.remove(name) {
            Some(Val::Const(c)) => Ok(c),
            _ => unreachable!("`konst` found constant `{name}`"),
        }
    }

    /// Integers given as the constant input `k` (newer opsets: axes, pads, starts) or, where
    /// that input is absent, as the attribute `name` (older opsets); `None` where neither is.
    pub fn ints_arg(
        &self,
        node: &Node,
        k: usize,
        name: &str,
    ) -> Result<Option<Vec<i64>>, OnnxError> {
        if node.has_input(k) {
            let c = self.konst(node, k, name)?;
            match &c.ints {
                Some(v) => Ok(Some(v.clone())),
                None => Err(node.err(format!(
                    "{name} `{}` must be integers (int32 or int64)",
                    node.proto.input[k]
                ))),
            }
        } else {
            node.ints(name)
        }
    }

    fn index(&self, src: &str) -> Option<usize> {
        self.layers.iter().position(|l| l.name == src)
    }

    pub fn shape_of(&self, src: &str) -> [usize; 3] {
        self.index(src).map_or(self.input, |j| self.shapes[j])
    }

    /// ONNX dims of a computed tensor for one frame (the batch axis, where still first, is 1).
    pub fn dims_of(&self, src: &str) -> Vec<usize> {
        self.index(src)
            .map_or_else(|| self.input_dims.clone(), |j| self.dims[j].clone())
    }

    /// Appends a layer named after the node, binds the node's output to it and infers its
    /// shape. Its ONNX dims: [1, features] after linear/flatten, the input's when the op keeps
    /// the shape, else [1, C, H, W] of a feature map; other ops call `push_dims`.
    pub fn push(&mut self, node: &Node, op: Op, inputs: Vec<String>) -> Result<usize, OnnxError> {
        self.push_out(node, 0, op, inputs, None)
    }

    /// `push` with the output's ONNX dims given.
    pub fn push_dims(
        &mut self,
        node: &Node,
        op: Op,
        inputs: Vec<String>,
        dims: Vec<usize>,
    ) -> Result<usize, OnnxError> {
        self.push_out(node, 0, op, inputs, Some(dims))
    }

    /// `push` for output `k` of the node. Where the layer's [C, H, W] is not the layout of
    /// its ONNX dims (an ONNX rank change), a `reshape` layer (values unchanged) follows it.
    pub fn push_out(
        &mut self,
        node: &Node,
        k: usize,
        op: Op,
        inputs: Vec<String>,
        dims: Option<Vec<usize>>,
    ) -> Result<usize, OnnxError> {
        let in_dims = self.dims_of(&inputs[0]);
        let in_shape = self.shape_of(&inputs[0]);
        let is_flat = matches!(op, Op::Linear { .. } | Op::Flatten);
        let j = self.append(node, op, inputs)?;
        let out = self.shapes[j];
        let dims = match dims {
            Some(d) => d,
            None if is_flat => vec![1, out[0]],
            None if out == in_shape => in_dims,
            None if in_dims.len() == 4 && in_dims[0] == 1 => vec![1, out[0], out[1], out[2]],
            None => {
                return Err(node.err(format!(
                    "on a tensor of shape {in_dims:?} this op is not supported (only on [N, C, \
                     H, W])"
                )))
            }
        };
        self.dims.push(dims.clone());
        let want = frame(&dims);
        let j = if want == out {
            j
        } else {
            let src = self.layers[j].name.clone();
            let r = self.append(node, Op::Reshape { shape: want }, vec![src])?;
            self.dims.push(dims);
            r
        };
        if let Some(o) = node.proto.output.get(k) {
            self.vals.insert(o.clone(), Val::Layer(j));
        }
        Ok(j)
    }

    /// `x` laid out as `shape` (same values, row-major): `x` itself where it already is, else a
    /// `reshape` layer's name.
    pub fn laid_out(
        &mut self,
        node: &Node,
        x: String,
        shape: [usize; 3],
    ) -> Result<String, OnnxError> {
        if self.shape_of(&x) == shape {
            return Ok(x);
        }
        let j = self.push_dims(node, Op::Reshape { shape }, vec![x], shape.to_vec())?;
        Ok(self.layers[j].name.clone())
    }

    /// A `const` layer holding constant input `k` of the node, for an operand of ONNX rank
    /// `rank` (a constant of fewer axes gets leading 1s, as ONNX broadcasting aligns the ends).
    pub fn const_layer(&mut self, node: &Node, k: usize, rank: usize) -> Result<String, OnnxError> {
        let c = self.konst(node, k, "operand")?.clone();
        self.const_value(node, c, rank)
    }

    /// A `const` layer holding `c` (not necessarily one of the node's inputs: a padding's
    /// zeros, a constant expanded to its operand's shape), for an operand of ONNX rank `rank`.
    pub fn const_value(&mut self, node: &Node, c: Const, rank: usize) -> Result<String, OnnxError> {
        if c.dims.len() > rank {
            return Err(node.err(format!(
                "constant operand of shape {:?} has more axes than the computed tensor's {rank}",
                c.dims
            )));
        }
        let mut dims = vec![1; rank - c.dims.len()];
        dims.extend(&c.dims);
        let shape = frame(&dims);
        let j = self.push_dims(node, Op::Const { shape }, vec!["input".into()], dims)?;
        self.set_weight(j, "value", arr(&shape, c.f));
        Ok(self.layers[j].name.clone())
    }

    /// Appends a layer named after the node (its dims pushed by the caller).
    fn append(&mut self, node: &Node, op: Op, inputs: Vec<String>) -> Result<usize, OnnxError> {
        let n = node.proto;
        let base = match sanitize(&n.name) {
            s if s.is_empty() => format!("{}{}", n.op_type.to_lowercase(), node.index),
            s => s,
        };
        let mut name = base.clone();
        let mut k = 1;
        while self.names.contains(&name) {
            k += 1;
            name = format!("{base}_{k}");
        }
        self.names.insert(name.clone());
        self.layers.push(LayerDesc { name, op, inputs });
        let partial = ModelDesc {
            name: self.name.clone(),
            input: self.input,
            layers: self.layers.clone(),
            outputs: vec![],
            source: self.file.to_string(),
        };
        let j = self.layers.len() - 1;
        // Only the new layer's shape is inferred (earlier ones are known).
        let shapes = partial.shapes().map_err(|e| {
            self.layers.pop();
            node.err(e.message)
        })?;
        self.shapes.push(shapes[j]);
        Ok(j)
    }

    /// Stores tensor `LAYER.suffix` of layer `j`.
    pub fn set_weight(&mut self, j: usize, suffix: &str, t: ArrayD<f32>) {
        let ln = &self.layers[j].name;
        self.weights.insert(format!("{ln}.{suffix}"), t);
    }
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

/// A bias of `out` values from a constant of shape [out], [1, out] (linear) or [out, 1, 1],
/// [1, out, 1, 1] (conv), or a scalar.
pub fn broadcast_bias(c: &Const, out: usize, conv: bool) -> Result<Vec<f32>, String> {
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
pub fn same_pair(at: &Attrs, name: &str, default: usize) -> Result<usize, String> {
    match at.ints(name)? {
        None => Ok(default),
        Some(v) if v.len() == 2 && v[0] == v[1] && v[0] >= 1 => Ok(v[0] as usize),
        Some(v) => Err(format!(
            "{name} {v:?}: only 2-D with the same value on both axes (>= 1) is supported"
        )),
    }
}

/// One frame's dims with a leading 1 (the batch, where it is still first) left out, and how
/// many axes were left out (0 or 1).
pub fn per_frame(dims: &[usize]) -> (&[usize], usize) {
    match dims {
        [1, rest @ ..] => (rest, 1),
        _ => (dims, 0),
    }
}

/// The [C, H, W] a tensor of ONNX dims (one frame's, the batch 1) is held as, row-major: a
/// leading 1 left out, then [F] as [F, 1, 1] (flat features), [A, B] as [1, A, B] (tokens),
/// [C, H, W] itself, and dims past the third merged into W. Dims of length 3 are held as
/// themselves.
pub fn frame(dims: &[usize]) -> [usize; 3] {
    match per_frame(dims).0 {
        [] => [1, 1, 1],
        [f] => [*f, 1, 1],
        [a, b] => [1, *a, *b],
        [a, b, rest @ ..] => [*a, *b, rest.iter().product()],
    }
}

/// `dims` grouped around axis `a`: [the axes before it, it, the axes after it], so that an op
/// along one axis the frame holds merged with others can run on the middle axis.
pub fn around(dims: &[usize], a: usize) -> [usize; 3] {
    [
        dims[..a].iter().product(),
        dims[a],
        dims[a + 1..].iter().product(),
    ]
}

/// The most values a tensor the importer makes may hold (8 GiB of f32): sizes read from a file
/// (pad amounts, expand shapes) are checked against it before anything is allocated.
pub const MAX_VALUES: usize = 1 << 31;

/// Values `v` of a row-major tensor of `src` broadcast to `dims` by numpy's rules (`src`
/// aligned at the right, each of its axes equal to the target's or 1); `None` where they do
/// not broadcast or the result would exceed `MAX_VALUES`.
pub fn broadcast_to<V: Copy>(src: &[usize], v: &[V], dims: &[usize]) -> Option<Vec<V>> {
    let r = dims.len();
    if src.len() > r || v.len() != src.iter().product::<usize>() {
        return None;
    }
    let cd: Vec<usize> = std::iter::repeat_n(1, r - src.len())
        .chain(src.iter().copied())
        .collect();
    if cd.iter().zip(dims).any(|(&a, &b)| a != b && a != 1) {
        return None;
    }
    let n = count_within(dims)?;
    // Row-major strides of the source, 0 along its broadcast axes; an odometer over `dims`.
    let mut stride = vec![0; r];
    let mut s = 1;
    for a in (0..r).rev() {
        stride[a] = if cd[a] == 1 { 0 } else { s };
        s *= cd[a];
    }
    let mut out = Vec::with_capacity(n);
    let (mut idx, mut at) = (vec![0; r], 0usize);
    for _ in 0..n {
        out.push(v[at]);
        for a in (0..r).rev() {
            idx[a] += 1;
            at += stride[a];
            if idx[a] < dims[a] {
                break;
            }
            at -= stride[a] * idx[a];
            idx[a] = 0;
        }
    }
    Some(out)
}

/// The number of values of a tensor of `dims`, if it is at most `MAX_VALUES`.
pub fn count_within(dims: &[usize]) -> Option<usize> {
    dims.iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= MAX_VALUES)
}

/// ONNX axis `axis` (negative counts from the end) of a tensor of `dims` as an index into them.
pub fn onnx_axis(dims: &[usize], axis: i64) -> Result<usize, String> {
    let r = dims.len() as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a >= r {
        return Err(format!(
            "axis {axis}: a tensor of shape {dims:?} has axes 0..{r} (or -{r}..-1)"
        ));
    }
    Ok(a as usize)
}

/// The [C, H, W] axis that holds ONNX axis `axis` of a tensor of `dims` (see `frame`), or an
/// error saying why it has none.
pub fn frame_axis(dims: &[usize], axis: i64) -> Result<usize, String> {
    let a = onnx_axis(dims, axis)?;
    let (d, off) = per_frame(dims);
    if a < off {
        return Err(format!(
            "axis {axis} of shape {dims:?} is the batch: only the other axes can be named"
        ));
    }
    let i = a - off;
    match d.len() {
        1 => Ok(0),
        2 => Ok(i + 1),
        3 => Ok(i),
        _ if i < 2 => Ok(i),
        n if (2..n).all(|j| j == i || d[j] == 1) => Ok(2),
        _ => Err(format!(
            "axis {axis} of shape {dims:?}: axes past the third of a frame are held merged, \
             so only one of them that is not 1 can be named"
        )),
    }
}

/// Padding [top, left, bottom, right] from `pads` or `auto_pad`.
pub fn pads4(
    at: &Attrs,
    [h, w]: [usize; 2],
    [kh, kw]: [usize; 2],
    stride: usize,
    dilation: usize,
) -> Result<[usize; 4], String> {
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
    if pads.len() != 4 || pads.iter().any(|&p| p < 0) {
        return Err(format!(
            "pads {pads:?} (auto_pad {auto}): four non-negative values of a 2-D window are needed"
        ));
    }
    Ok([
        pads[0] as usize,
        pads[1] as usize,
        pads[2] as usize,
        pads[3] as usize,
    ])
}

/// The input to a windowed op and its symmetric padding: `x` itself when `pads` are the same
/// on every side, else a `pad` layer (zeros, or -infinity before a max pool) and padding 0.
pub fn pad_input(
    cx: &mut Ctx,
    node: &Node,
    x: String,
    pads: [usize; 4],
    neg_inf: bool,
) -> Result<(String, usize), OnnxError> {
    if pads.iter().all(|&p| p == pads[0]) {
        return Ok((x, pads[0]));
    }
    let j = cx.push(node, Op::Pad { pads, neg_inf }, vec![x])?;
    Ok((cx.layers[j].name.clone(), 0))
}
