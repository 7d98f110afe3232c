//! The ONNX ops the importer maps, one file per op (or per family converted alike), each a
//! unit struct implementing [`OnnxOp`]. To map a new op: add its file here and one line in
//! [`REGISTRY`]; the "unsupported op" error lists the registry, so it stays current.

mod add;
mod batch_norm;
mod clip;
mod concat;
mod constant;
mod conv;
mod flatten;
mod gemm;
mod identity;
mod matmul;
mod pool;
mod relu;
mod reshape;
mod resize;

use super::context::{Ctx, Node};
use super::OnnxError;
use std::sync::OnceLock;

/// One ONNX op (or a family of op types converted alike) of the default domain.
pub trait OnnxOp: Sync {
    /// The ONNX op types it converts.
    fn op_types(&self) -> &'static [&'static str];

    /// Its entry in the supported list of the "unsupported op" error: the op types, with what
    /// is supported of them where that is narrower than the op.
    fn listed(&self) -> String {
        self.op_types().join(", ")
    }

    /// Converts `node`: appends its layer (and weights) to `cx`, folds it into an earlier
    /// layer, or binds its output to a value already there.
    fn convert(&self, cx: &mut Ctx, node: &Node) -> Result<(), OnnxError>;
}

/// Every op the importer maps, in the order the supported list names them.
pub static REGISTRY: &[&dyn OnnxOp] = &[
    &conv::Conv,
    &gemm::Gemm,
    &matmul::MatMul,
    &add::Add,
    &batch_norm::BatchNorm,
    &relu::Relu,
    &clip::Clip,
    &pool::Pool,
    &pool::GlobalAveragePool,
    &concat::Concat,
    &resize::Resize,
    &flatten::Flatten,
    &reshape::Reshape,
    &identity::Identity,
    &constant::Constant,
];

/// The op that converts `op_type`, if any.
pub fn find(op_type: &str) -> Option<&'static dyn OnnxOp> {
    REGISTRY
        .iter()
        .copied()
        .find(|op| op.op_types().contains(&op_type))
}

/// The ONNX ops the importer maps, as the "unsupported op" error lists them.
pub fn supported_ops() -> &'static str {
    static LIST: OnceLock<String> = OnceLock::new();
    LIST.get_or_init(|| {
        REGISTRY
            .iter()
            .map(|op| op.listed())
            .collect::<Vec<_>>()
            .join(", ")
    })
}
