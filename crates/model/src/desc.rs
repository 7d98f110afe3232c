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
            Op::Concat => "concat",
            Op::Flatten => "flatten",
        }
    }

    /// Whether the layer is a matrix product that goes onto crossbars.
    pub fn is_matrix(&self) -> bool {
        matches!(self, Op::Conv { .. } | Op::Linear { .. })
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
