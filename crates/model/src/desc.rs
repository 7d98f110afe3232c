//! The parsed, resolved description: every layer's inputs are explicit names.

/// One network. `source` names the file it came from, for error messages; it takes no part
/// in equality, so a description read back from its own `to_toml` equals the original.
#[derive(Debug, Clone)]
pub struct ModelDesc {
    pub name: String,
    /// C, H, W of one frame.
    pub input: [usize; 3],
    pub layers: Vec<LayerDesc>,
    /// Layers whose outputs are the network's outputs (heads).
    pub outputs: Vec<String>,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LayerDesc {
    pub name: String,
    pub op: Op,
    /// Names of the layers this one reads (`"input"` for the frame), resolved.
    pub inputs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Conv {
        out_channels: usize,
        /// [kh, kw]
        kernel: [usize; 2],
        stride: usize,
        padding: usize,
        dilation: usize,
        groups: usize,
        bias: bool,
    },
    /// Reads its input flattened (C*H*W features), as after `flatten`.
    Linear {
        out_features: usize,
        bias: bool,
    },
    /// Folded into the conv/linear before it when mapped; affine (gamma, beta) parameters.
    BatchNorm,
    Relu,
    /// min(max(x, 0), 6) (ONNX `Clip(0, 6)`).
    Relu6,
    MaxPool {
        kernel: usize,
        stride: usize,
        padding: usize,
    },
    AvgPool {
        kernel: usize,
        stride: usize,
        padding: usize,
    },
    GlobalAvgPool,
    Add,
    /// Nearest-neighbour upsampling by an integer factor.
    Upsample {
        scale: usize,
    },
    /// Along channels.
    Concat,
    Flatten,
    /// Along another axis of [C, H, W] (1 = H, 2 = W); the TOML op is `concat` with `axis`.
    ConcatAxis {
        axis: usize,
    },
    /// A constant matrix applied to every row (the last axis, W) of [C, H, W]: [C, H, out].
    /// Its weight is [out, W] like a linear layer's; it goes onto crossbars with C * H vectors.
    Dense {
        out_features: usize,
        bias: bool,
    },
    /// Product of two computed tensors, [C, H, K] x [C or 1, K, N] -> [C, H, N] (attention's
    /// Q.K^T and A.V per head). It changes every input, so it runs in the tile's digital
    /// units, not on crossbars.
    MatMul,
    /// An element-wise function of one input.
    Act(Act),
    /// Element-wise products and quotients of two inputs, broadcasting 1-sized axes of either.
    Mul,
    Div,
    /// Fixed padding [top, left, bottom, right] of H and W, with zeros or with -infinity
    /// (before a max pool, where padding must never win).
    Pad {
        pads: [usize; 4],
        neg_inf: bool,
    },
    /// Mean over the axes set in `axes` ([C, H, W]), each kept with size 1.
    ReduceMean {
        axes: [bool; 3],
    },
    /// Softmax along one axis of [C, H, W].
    Softmax {
        axis: usize,
    },
    /// Normalisation over the last axis (W) with a learned scale and shift of W values
    /// (`LAYER.weight`, `LAYER.bias`).
    LayerNorm {
        eps: f32,
    },
    /// Axes of `[C, H, W]` permuted: output axis i is input axis `perm[i]`.
    Transpose {
        perm: [usize; 3],
    },
    /// The same values, row-major, under another [C, H, W].
    Reshape {
        shape: [usize; 3],
    },
    /// A constant tensor of one frame (`LAYER.value`, [C, H, W]), the same for every frame; it
    /// reads the network input only for the batch size (a class token, position embeddings,
    /// a layer scale).
    Const {
        shape: [usize; 3],
    },
    /// Indices start, start + step, ... below end of one axis.
    Slice {
        axis: usize,
        start: usize,
        end: usize,
        step: usize,
    },
}

/// Element-wise functions of one value, all run digitally.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Act {
    Sigmoid,
    /// max(0, min(1, alpha * x + beta)).
    HardSigmoid {
        alpha: f32,
        beta: f32,
    },
    /// x * HardSigmoid(x) with alpha 1/6, beta 1/2.
    HardSwish,
    Erf,
    Tanh,
    /// x * Phi(x) (exact, with erf).
    Gelu,
    /// alpha * x + beta (a scalar Mul, Div, Add or Sub of a constant).
    Affine {
        alpha: f32,
        beta: f32,
    },
    Sqrt,
    Exp,
    /// min(max(x, min), max) (ONNX `Clip` with other bounds than ReLU's and ReLU6's; the
    /// norm's floor of F.normalize).
    Clip {
        min: f32,
        max: f32,
    },
}

impl Act {
    pub fn kind(&self) -> &'static str {
        match self {
            Act::Sigmoid => "sigmoid",
            Act::HardSigmoid { .. } => "hardsigmoid",
            Act::HardSwish => "hardswish",
            Act::Erf => "erf",
            Act::Tanh => "tanh",
            Act::Gelu => "gelu",
            Act::Affine { .. } => "affine",
            Act::Sqrt => "sqrt",
            Act::Exp => "exp",
            Act::Clip { .. } => "clip",
        }
    }

    /// The function at `x`.
    pub fn apply(&self, x: f32) -> f32 {
        match *self {
            Act::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Act::HardSigmoid { alpha, beta } => (alpha * x + beta).clamp(0.0, 1.0),
            Act::HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
            Act::Erf => libm::erff(x),
            Act::Tanh => x.tanh(),
            Act::Gelu => 0.5 * x * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2)),
            Act::Affine { alpha, beta } => alpha * x + beta,
            Act::Sqrt => x.sqrt(),
            Act::Exp => x.exp(),
            // NaN stays NaN, as torch's clamp on the tensor engine keeps it.
            Act::Clip { .. } if x.is_nan() => x,
            Act::Clip { min, max } => x.max(min).min(max),
        }
    }
}

impl Op {
    /// The `op` key of the TOML format.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Conv { .. } => "conv",
            Op::Linear { .. } => "linear",
            Op::BatchNorm => "bn",
            Op::Relu => "relu",
            Op::Relu6 => "relu6",
            Op::MaxPool { .. } => "maxpool",
            Op::AvgPool { .. } => "avgpool",
            Op::GlobalAvgPool => "gap",
            Op::Add => "add",
            Op::Upsample { .. } => "upsample",
            Op::Concat | Op::ConcatAxis { .. } => "concat",
            Op::Flatten => "flatten",
            Op::Dense { .. } => "dense",
            Op::MatMul => "matmul",
            Op::Act(a) => a.kind(),
            Op::Mul => "mul",
            Op::Div => "div",
            Op::Pad { .. } => "pad",
            Op::ReduceMean { .. } => "reducemean",
            Op::Softmax { .. } => "softmax",
            Op::LayerNorm { .. } => "layernorm",
            Op::Transpose { .. } => "transpose",
            Op::Reshape { .. } => "reshape",
            Op::Slice { .. } => "slice",
            Op::Const { .. } => "const",
        }
    }

    /// Whether the layer is a matrix product that goes onto crossbars.
    pub fn is_matrix(&self) -> bool {
        matches!(self, Op::Conv { .. } | Op::Linear { .. } | Op::Dense { .. })
    }
}

impl PartialEq for ModelDesc {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name
            && self.input == o.input
            && self.layers == o.layers
            && self.outputs == o.outputs
    }
}

/// Where a layer reads from: the network's input or an earlier layer (by index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Src {
    Input,
    Layer(usize),
}

impl ModelDesc {
    /// Index of a layer by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.layers.iter().position(|l| l.name == name)
    }
}
