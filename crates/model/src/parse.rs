//! TOML text -> `ModelDesc`: field checks per op, input resolution, then shape inference so
//! a description that loads is one whose shapes agree.

use super::{Act, LayerDesc, ModelDesc, ModelError, Op};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;

/// `kernel = 3` or `kernel = [kh, kw]`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(untagged)]
pub(super) enum RawKernel {
    Square(usize),
    Pair([usize; 2]),
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawModel {
    pub name: String,
    pub input: [usize; 3],
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<String>,
    #[serde(default)]
    pub layers: Vec<RawLayer>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLayer {
    pub name: String,
    pub op: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_channels: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_features: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<RawKernel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stride: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub padding: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dilation: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bias: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beta: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pads: Option<[usize; 4]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub neg_inf: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub axis: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub axes: Option<Vec<usize>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eps: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub perm: Option<[usize; 3]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape: Option<[usize; 3]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
}

const OPS: &str = "conv, linear, bn, relu, relu6, maxpool, avgpool, gap, add, upsample, concat, \
                   flatten, dense, matmul, sigmoid, hardsigmoid, hardswish, erf, tanh, gelu, sqrt, exp, clip, \
                   affine, mul, div, pad, reducemean, softmax, layernorm, transpose, reshape, \
                   slice, const";

/// Reads and checks a model description file.
/// An `.onnx` path is imported (`onnx::import_onnx`) and its description returned.
pub fn load_model(path: &Path) -> Result<ModelDesc, ModelError> {
    if super::onnx::is_onnx(path) {
        return Ok(super::onnx::import_onnx(path)?.desc);
    }
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ModelError::new(
            &shown,
            "",
            "",
            format!("cannot read the model description: {e}"),
        )
    })?;
    parse_model(&text, &shown)
}

/// Parses and checks TOML text; `source` names it in errors.
pub fn parse_model(text: &str, source: &str) -> Result<ModelDesc, ModelError> {
    let raw: RawModel = toml::from_str(text).map_err(|e| {
        // The line's `section.key` (`layers[3].out_channels`) and value, not a byte offset.
        let i = nestevo_core::config::toml_error(source, text, &e);
        let message = if i.value.is_empty() {
            i.allowed
        } else {
            format!("{}: {}", i.value, i.allowed)
        };
        ModelError::new(source, "", i.field, message)
    })?;
    let model = resolve(raw, source)?;
    model.shapes()?;
    Ok(model)
}

fn resolve(raw: RawModel, src: &str) -> Result<ModelDesc, ModelError> {
    let top = |field: &str, msg: String| ModelError::new(src, "", field, msg);
    if raw.input.contains(&0) {
        return Err(top(
            "input",
            format!("{:?}: C, H and W must all be at least 1", raw.input),
        ));
    }
    if raw.layers.is_empty() {
        return Err(top(
            "layers",
            "the network has no layers; add [[layers]] tables".into(),
        ));
    }
    let mut seen: HashSet<String> = HashSet::new();
    let mut layers = Vec::with_capacity(raw.layers.len());
    for (i, l) in raw.layers.into_iter().enumerate() {
        let who = if l.name.is_empty() {
            format!("#{i}")
        } else {
            l.name.clone()
        };
        let err = |field: &str, msg: String| ModelError::new(src, &who, field, msg);
        if l.name.is_empty() || l.name == "input" {
            return Err(err(
                "name",
                format!(
                    "`{}` is not allowed: a non-empty name other than `input`",
                    l.name
                ),
            ));
        }
        if seen.contains(&l.name) {
            return Err(err(
                "name",
                "names must be unique; this one is used by an earlier layer".into(),
            ));
        }
        let inputs = match &l.inputs {
            Some(v) => v.clone(),
            None => vec![layers
                .last()
                .map_or("input".to_string(), |p: &LayerDesc| p.name.clone())],
        };
        for name in &inputs {
            if name != "input" && !seen.contains(name) {
                return Err(err("inputs", format!("unknown input `{name}`: allowed are `input` and the names of earlier layers")));
            }
        }
        let op = build_op(&l, &err)?;
        let arity_ok = match op {
            Op::Add => inputs.len() >= 2,
            Op::Concat | Op::ConcatAxis { .. } => !inputs.is_empty(),
            Op::MatMul | Op::Mul | Op::Div => inputs.len() == 2,
            _ => inputs.len() == 1,
        };
        if !arity_ok {
            let want = match op {
                Op::Add => "at least 2 inputs",
                Op::Concat | Op::ConcatAxis { .. } => "at least 1 input",
                Op::MatMul | Op::Mul | Op::Div => "exactly 2 inputs",
                _ => "exactly 1 input",
            };
            return Err(err(
                "inputs",
                format!(
                    "{} inputs given; op `{}` takes {want}",
                    inputs.len(),
                    op.kind()
                ),
            ));
        }
        seen.insert(l.name.clone());
        layers.push(LayerDesc {
            name: l.name,
            op,
            inputs,
        });
    }
    let outputs = if raw.outputs.is_empty() {
        vec![layers.last().expect("checked non-empty").name.clone()]
    } else {
        for o in &raw.outputs {
            if !seen.contains(o) {
                return Err(top(
                    "outputs",
                    format!("unknown layer `{o}`: outputs must name layers"),
                ));
            }
        }
        raw.outputs
    };
    Ok(ModelDesc {
        name: raw.name,
        input: raw.input,
        layers,
        outputs,
        source: src.to_string(),
    })
}

/// Builds the op, refusing fields the op does not take and zero sizes.
fn build_op(l: &RawLayer, err: &dyn Fn(&str, String) -> ModelError) -> Result<Op, ModelError> {
    let present: Vec<(&str, bool)> = vec![
        ("out_channels", l.out_channels.is_some()),
        ("out_features", l.out_features.is_some()),
        ("kernel", l.kernel.is_some()),
        ("stride", l.stride.is_some()),
        ("padding", l.padding.is_some()),
        ("dilation", l.dilation.is_some()),
        ("groups", l.groups.is_some()),
        ("bias", l.bias.is_some()),
        ("scale", l.scale.is_some()),
        ("alpha", l.alpha.is_some()),
        ("beta", l.beta.is_some()),
        ("min", l.min.is_some()),
        ("max", l.max.is_some()),
        ("pads", l.pads.is_some()),
        ("neg_inf", l.neg_inf.is_some()),
        ("axis", l.axis.is_some()),
        ("axes", l.axes.is_some()),
        ("eps", l.eps.is_some()),
        ("perm", l.perm.is_some()),
        ("shape", l.shape.is_some()),
        ("start", l.start.is_some()),
        ("end", l.end.is_some()),
        ("step", l.step.is_some()),
    ];
    let allowed: &[&str] = match l.op.as_str() {
        "conv" => &[
            "out_channels",
            "kernel",
            "stride",
            "padding",
            "dilation",
            "groups",
            "bias",
        ],
        "linear" => &["out_features", "bias"],
        "maxpool" | "avgpool" => &["kernel", "stride", "padding"],
        "upsample" => &["scale"],
        "concat" | "softmax" => &["axis"],
        "dense" => &["out_features", "bias"],
        "hardsigmoid" | "affine" => &["alpha", "beta"],
        "clip" => &["min", "max"],
        "pad" => &["pads", "neg_inf"],
        "reducemean" => &["axes"],
        "layernorm" => &["eps"],
        "transpose" => &["perm"],
        "reshape" | "const" => &["shape"],
        "slice" => &["axis", "start", "end", "step"],
        "bn" | "relu" | "relu6" | "gap" | "add" | "flatten" | "matmul" | "sigmoid"
        | "hardswish" | "erf" | "tanh" | "gelu" | "mul" | "div" | "sqrt" | "exp" => &[],
        other => return Err(err("op", format!("unknown op `{other}`; allowed: {OPS}"))),
    };
    for (field, is) in present {
        if is && !allowed.contains(&field) {
            let takes = if allowed.is_empty() {
                "none".to_string()
            } else {
                allowed.join(", ")
            };
            return Err(err(
                field,
                format!("not a field of op `{}`; it takes: {takes}", l.op),
            ));
        }
    }
    let positive =
        |field: &str, v: Option<usize>, default: Option<usize>| -> Result<usize, ModelError> {
            match v.or(default) {
                None => Err(err(field, format!("required for op `{}`", l.op))),
                Some(0) => Err(err(field, "0 is not allowed: must be at least 1".into())),
                Some(x) => Ok(x),
            }
        };
    let kernel = |required: bool| -> Result<Option<[usize; 2]>, ModelError> {
        let k = match l.kernel {
            None if required => return Err(err("kernel", format!("required for op `{}`", l.op))),
            None => return Ok(None),
            Some(RawKernel::Square(k)) => [k, k],
            Some(RawKernel::Pair(p)) => p,
        };
        if k.contains(&0) {
            return Err(err(
                "kernel",
                format!("{k:?}: kernel sizes must be at least 1"),
            ));
        }
        Ok(Some(k))
    };
    Ok(match l.op.as_str() {
        "conv" => Op::Conv {
            out_channels: positive("out_channels", l.out_channels, None)?,
            kernel: kernel(true)?.expect("required"),
            stride: positive("stride", l.stride, Some(1))?,
            padding: l.padding.unwrap_or(0),
            dilation: positive("dilation", l.dilation, Some(1))?,
            groups: positive("groups", l.groups, Some(1))?,
            bias: l.bias.unwrap_or(true),
        },
        "linear" => Op::Linear {
            out_features: positive("out_features", l.out_features, None)?,
            bias: l.bias.unwrap_or(true),
        },
        "maxpool" | "avgpool" => {
            let k = kernel(true)?.expect("required");
            if k[0] != k[1] {
                return Err(err(
                    "kernel",
                    format!("{k:?}: pooling kernels must be square"),
                ));
            }
            let stride = positive("stride", l.stride, Some(k[0]))?;
            let padding = l.padding.unwrap_or(0);
            if padding * 2 > k[0] {
                return Err(err(
                    "padding",
                    format!("{padding}: at most half the kernel ({})", k[0] / 2),
                ));
            }
            if l.op == "maxpool" {
                Op::MaxPool {
                    kernel: k[0],
                    stride,
                    padding,
                }
            } else {
                Op::AvgPool {
                    kernel: k[0],
                    stride,
                    padding,
                }
            }
        }
        "upsample" => Op::Upsample {
            scale: positive("scale", l.scale, None)?,
        },
        "bn" => Op::BatchNorm,
        "relu" => Op::Relu,
        "relu6" => Op::Relu6,
        "gap" => Op::GlobalAvgPool,
        "add" => Op::Add,
        "concat" => match l.axis.unwrap_or(0) {
            0 => Op::Concat,
            axis => Op::ConcatAxis { axis },
        },
        "flatten" => Op::Flatten,
        "dense" => Op::Dense {
            out_features: positive("out_features", l.out_features, None)?,
            bias: l.bias.unwrap_or(true),
        },
        "matmul" => Op::MatMul,
        "sigmoid" => Op::Act(Act::Sigmoid),
        "hardsigmoid" => Op::Act(Act::HardSigmoid {
            alpha: l.alpha.unwrap_or(0.2),
            beta: l.beta.unwrap_or(0.5),
        }),
        "hardswish" => Op::Act(Act::HardSwish),
        "erf" => Op::Act(Act::Erf),
        "tanh" => Op::Act(Act::Tanh),
        "gelu" => Op::Act(Act::Gelu),
        "sqrt" => Op::Act(Act::Sqrt),
        "exp" => Op::Act(Act::Exp),
        "clip" => {
            let (min, max) = (
                l.min.unwrap_or(f32::NEG_INFINITY),
                l.max.unwrap_or(f32::INFINITY),
            );
            if min.is_nan() || max.is_nan() || min > max {
                return Err(err(
                    "min",
                    format!("min {min} and max {max}: numbers with min <= max"),
                ));
            }
            Op::Act(Act::Clip { min, max })
        }
        "affine" => Op::Act(Act::Affine {
            alpha: l.alpha.unwrap_or(1.0),
            beta: l.beta.unwrap_or(0.0),
        }),
        "mul" => Op::Mul,
        "div" => Op::Div,
        "pad" => Op::Pad {
            pads: l
                .pads
                .ok_or_else(|| err("pads", "required for op `pad`".into()))?,
            neg_inf: l.neg_inf.unwrap_or(false),
        },
        "reducemean" => {
            let list = l
                .axes
                .clone()
                .ok_or_else(|| err("axes", "required for op `reducemean`".into()))?;
            let mut axes = [false; 3];
            for a in &list {
                if *a > 2 {
                    return Err(err(
                        "axes",
                        format!("{list:?}: allowed 0 (C), 1 (H), 2 (W)"),
                    ));
                }
                axes[*a] = true;
            }
            Op::ReduceMean { axes }
        }
        "softmax" => Op::Softmax {
            axis: l.axis.unwrap_or(2),
        },
        "layernorm" => Op::LayerNorm {
            eps: l.eps.unwrap_or(1e-5),
        },
        "transpose" => Op::Transpose {
            perm: l
                .perm
                .ok_or_else(|| err("perm", "required for op `transpose`".into()))?,
        },
        "reshape" => Op::Reshape {
            shape: l
                .shape
                .ok_or_else(|| err("shape", "required for op `reshape`".into()))?,
        },
        "const" => Op::Const {
            shape: l
                .shape
                .ok_or_else(|| err("shape", "required for op `const`".into()))?,
        },
        "slice" => Op::Slice {
            axis: l
                .axis
                .ok_or_else(|| err("axis", "required for op `slice`".into()))?,
            start: l.start.unwrap_or(0),
            end: l
                .end
                .ok_or_else(|| err("end", "required for op `slice`".into()))?,
            step: positive("step", l.step, Some(1))?,
        },
        _ => unreachable!("checked above"),
    })
}
