//! The ONNX ops the importer maps, one file per op (or per family converted alike), each a
//! unit struct implementing [`OnnxOp`]. To map a new op: add its file here and one line in
//! [`REGISTRY`]; the "unsupported op" error lists the registry, so it stays current.

mod activation;
mod add;
mod arith;
mod batch_norm;
mod clip;
mod concat;
mod constant;
mod conv;
mod einsum;
mod expand;
mod flatten;
mod gemm;
mod identity;
mod layer_norm;
mod matmul;
mod pad;
mod pool;
mod reduce_mean;
mod relu;
mod reshape;
mod resize;
mod slice;
mod softmax;
mod transpose;

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
    &einsum::Einsum,
    &add::Add,
    &arith::Arith,
    &batch_norm::BatchNorm,
    &layer_norm::LayerNorm,
    &relu::Relu,
    &clip::Clip,
    &activation::Activation,
    &softmax::Softmax,
    &pool::Pool,
    &pool::GlobalAveragePool,
    &reduce_mean::ReduceMean,
    &concat::Concat,
    &slice::Slice,
    &slice::Split,
    &resize::Resize,
    &flatten::Flatten,
    &reshape::Reshape,
    &transpose::Transpose,
    &expand::Expand,
    &pad::Pad,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// No op type is claimed twice (the second would never be reached), and the error's
    /// supported list is the registry's: each op's entry, in order, names its op types.
    #[test]
    fn registry_names_are_unique_and_make_the_supported_list() {
        let mut seen = HashSet::new();
        for op in REGISTRY {
            for t in op.op_types() {
                assert!(seen.insert(*t), "op type `{t}` is registered twice");
                assert_eq!(find(t).map(|f| f.op_types()), Some(op.op_types()));
            }
        }
        let entries: Vec<String> = REGISTRY.iter().map(|op| op.listed()).collect();
        assert_eq!(supported_ops(), entries.join(", "));
        for (entry, op) in entries.iter().zip(REGISTRY) {
            for t in op.op_types() {
                assert!(entry.contains(t), "`{entry}` does not name {t}");
            }
        }
        let e = OnnxError::Unsupported {
            file: "f.onnx".into(),
            node: "n".into(),
            op: "Cos".into(),
        };
        assert_eq!(
            e.to_string(),
            format!(
                "f.onnx: node `n`: op `Cos` is not supported; supported: {}",
                supported_ops()
            )
        );
        // The list as the registry spells it (the error message users read).
        assert_eq!(
            supported_ops(),
            "Conv, Gemm, MatMul, Einsum (batched matrix products), Add, Sum, Mul, Div, Sub, BatchNormalization, \
             LayerNormalization, Relu, Clip, Sigmoid, HardSigmoid, HardSwish, Erf, Tanh, Gelu, Sqrt, \
             Exp, Softmax, MaxPool, AveragePool, GlobalAveragePool, ReduceMean, ReduceL2, \
             Concat, Slice, Gather (one constant index), Split, Resize and Upsample (nearest, \
             integer scale), Flatten, Reshape, Squeeze, Unsqueeze, Transpose, Expand, Pad \
             (constant mode), Identity, Dropout, Constant"
        );
    }
}
