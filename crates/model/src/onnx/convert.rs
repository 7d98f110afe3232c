//! Graph walking: the initializers and the network input are bound, then each node, in the
//! graph's (topological) order, is converted by the op of the registry that maps its type.

use super::context::{Ctx, Node, Val};
use super::fold;
use super::ops;
use super::proto::read_tensor;
use super::OnnxError;
use crate::ModelDesc;
use ndarray::ArrayD;
use onnx_protobuf::GraphProto;
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};

/// The graph as (description, weights).
pub fn convert(
    g: &GraphProto,
    opset: i64,
    file: &str,
    name: &str,
) -> Result<(ModelDesc, BTreeMap<String, ArrayD<f32>>), OnnxError> {
    let gerr = |message: String| OnnxError::Graph {
        file: file.to_string(),
        message,
    };
    let mut vals = HashMap::new();
    // Decoded over the threads (a ResNet-50's 100 MB), bound in file order: the first bad
    // initializer is the one named.
    let consts: Vec<_> = g.initializer.par_iter().map(read_tensor).collect();
    for (t, c) in g.initializer.iter().zip(consts) {
        let c = c.map_err(|m| gerr(format!("initializer: {m}")))?;
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
    let input_dims =
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
    let mut cx = Ctx::new(file, name, vals, input_dims, readers, opset);
    for (i, n) in g.node.iter().enumerate() {
        node(&mut cx, &Node::new(i, n, file))?;
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

/// The input's dims without the batch ([C, H, W], [tokens, features] or [features]), from its
/// declared type.
fn input_shape(v: &onnx_protobuf::ValueInfoProto) -> Result<Vec<usize>, String> {
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
    // Every shape is read for one frame (the graph at batch 1); a graph exported for a fixed
    // larger batch has that batch baked into its reshapes.
    if let Some(b) = shape
        .dim
        .first()
        .filter(|d| d.has_dim_value() && d.dim_value() > 1)
    {
        return Err(format!(
            "batch dimension fixed at {}: export with batch 1 or a symbolic batch",
            b.dim_value()
        ));
    }
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
    match dims.len() {
        1..=3 => Ok(dims),
        _ => Err(format!(
            "rank {}: allowed are [batch, C, H, W], [batch, tokens, features] and [batch, \
             features]",
            shape.dim.len()
        )),
    }
}

/// Converts one node with the registry's op for its type.
fn node(cx: &mut Ctx, node: &Node) -> Result<(), OnnxError> {
    let n = node.proto;
    if !(n.domain.is_empty() || n.domain == "ai.onnx") {
        return Err(node.unsupported(format!("{}::{}", n.domain, n.op_type)));
    }
    if fold::fold(cx, node)? {
        return Ok(());
    }
    match ops::find(&n.op_type) {
        Some(op) => op.convert(cx, node),
        None => Err(node.unsupported(n.op_type.clone())),
    }
}
