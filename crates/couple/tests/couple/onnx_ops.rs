//! The ONNX ops beyond plain CNNs, each on a tiny graph of tests/data/onnx (made with
//! onnxruntime's outputs by scripts/make_onnx_ops_testdata.py): the float reference within
//! 1e-4 of onnxruntime, the noiseless crossbar run within a stated bound of the float one, and
//! a tiny attention block end to end, mapped and costed by the performance model.

use ndarray::{Array4, ArrayD};
use ndarray_npy::read_npy;
use nestevo_arch::preset;
use nestevo_cim::{CimNetwork, NoiseSpec};
use nestevo_couple::generic::as_frames;
use nestevo_model::onnx::{import_onnx, Imported};
use nestevo_model::{parse_model, Act, Op, Tensors};
use std::path::{Path, PathBuf};

fn data(f: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("tests/data/onnx")
        .join(f)
}

fn network(imp: &Imported) -> CimNetwork {
    let t = Tensors {
        source: "onnx".into(),
        map: imp.weights.clone().into_iter().collect(),
    };
    let spec = preset("isaac").unwrap();
    CimNetwork::new(&imp.desc, &t, &spec, &NoiseSpec::default()).unwrap()
}

/// max |a - b| / max |b| over the values in row-major order (every layout the importer picks
/// keeps ONNX's row-major order, so only the shapes' ranks differ).
fn rel(a: &Array4<f32>, b: &ArrayD<f32>) -> f32 {
    assert_eq!(a.len(), b.len(), "{:?} vs {:?}", a.shape(), b.shape());
    let a = a.as_standard_layout();
    let d = a
        .iter()
        .zip(b.iter())
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    d / b.iter().fold(0f32, |m, v| m.max(v.abs()))
}

/// Every output of NAME.onnx: float vs onnxruntime within 1e-4 relative, crossbars (noiseless
/// ISAAC, 16-bit) vs float within `xbar`; returns the import.
fn check(name: &str, outputs: usize, xbar: f32) -> Imported {
    let imp = import_onnx(&data(&format!("{name}.onnx"))).unwrap();
    // The description reads back equal from its TOML (the new ops' fields included).
    assert_eq!(parse_model(&imp.desc.to_toml(), "again").unwrap(), imp.desc);
    let x: ArrayD<f32> = read_npy(data(&format!("{name}_x.npy"))).unwrap();
    let x = as_frames(x, imp.desc.input, "x").unwrap();
    let mut net = network(&imp);
    let float = net.forward_float(x.view()).unwrap();
    net.calibrate(x.view()).unwrap();
    let (cim, _) = net.forward_cim(x.view()).unwrap();
    assert_eq!(
        float.len(),
        outputs,
        "{name}: outputs {:?}",
        imp.desc.outputs
    );
    for k in 0..outputs {
        let r: ArrayD<f32> = read_npy(data(&format!("{name}_y{k}.npy"))).unwrap();
        let e = rel(&float[k], &r);
        assert!(e <= 1e-4, "{name} output {k}: float vs onnxruntime {e:e}");
        let q = rel(&cim[k], &float[k].clone().into_dyn());
        assert!(q <= xbar, "{name} output {k}: crossbars vs float {q:e}");
    }
    imp
}

fn kinds(imp: &Imported) -> Vec<&'static str> {
    imp.desc.layers.iter().map(|l| l.op.kind()).collect()
}

/// MaxPool with ceil_mode (-infinity padding at the bottom/right, with and without pads),
/// a Conv and an AveragePool with unequal pads (a `pad` layer before them).
#[test]
fn pool_ceil_mode_and_asymmetric_pads() {
    let imp = check("pool_pad", 4, 2f32.powi(-10));
    assert!(imp.desc.layers.iter().any(|l| matches!(
        l.op,
        Op::Pad {
            pads: [0, 0, 1, 1],
            neg_inf: true
        }
    )));
    assert!(imp.desc.layers.iter().any(|l| l.op
        == Op::Pad {
            pads: [0, 3, 0, 3],
            neg_inf: false
        }));
}

/// Sigmoid, HardSigmoid, HardSwish, Tanh, SiLU (Sigmoid then a Mul of two activations) and
/// GELU as exported at opset 17 (scalar Div, Add, Mul become `affine` layers, Erf).
#[test]
fn activations() {
    let imp = check("acts", 6, 0.0);
    let k = kinds(&imp);
    for want in [
        "sigmoid",
        "hardsigmoid",
        "hardswish",
        "tanh",
        "mul",
        "erf",
        "affine",
    ] {
        assert!(k.contains(&want), "{want} in {k:?}");
    }
}

/// Squeeze-and-excitation: ReduceMean (keepdims), a gate broadcast over [N, C, 1, 1] by Mul
/// and Div of two activations, ReduceMean without keepdims before a Gemm.
#[test]
fn excitation_gates_and_reduce_mean() {
    let imp = check("excite", 3, 2f32.powi(-10));
    assert!(imp.desc.layers.iter().any(|l| l.op
        == Op::ReduceMean {
            axes: [false, true, true]
        }));
    assert!(kinds(&imp).contains(&"div"));
}

/// The channel shuffle (a rank-5 Reshape, Transpose, Reshape), Split and Concat on channels,
/// Slice on H and Concat on W.
#[test]
fn channel_shuffle_split_slice_concat() {
    let imp = check("shuffle", 2, 2f32.powi(-10));
    let k = kinds(&imp);
    for want in ["transpose", "reshape", "slice", "concat"] {
        assert!(k.contains(&want), "{want} in {k:?}");
    }
    assert!(imp
        .desc
        .layers
        .iter()
        .any(|l| l.op == Op::ConcatAxis { axis: 2 }));
}

/// A ConvNeXt block: NHWC Transpose, LayerNormalization, per-pixel MatMul + Add on crossbars
/// (`dense`), GELU, Transpose back and the residual Add.
#[test]
fn convnext_block() {
    let imp = check("convnext", 1, 2f32.powi(-10));
    let dense = imp
        .desc
        .layers
        .iter()
        .filter(|l| matches!(l.op, Op::Dense { bias: true, .. }))
        .count();
    assert_eq!(dense, 2);
    assert!(kinds(&imp).contains(&"layernorm"));
}

/// A transformer block on tokens: float within 1e-4 of onnxruntime, crossbars within 2e-2;
/// Q.K^T and A.V are `matmul` layers (digital), the projections `dense` layers (crossbars);
/// the performance model maps it and charges the digital layers their stated costs.
#[test]
fn attention_block_end_to_end() {
    let imp = check("attention", 2, 2e-2);
    let d = &imp.desc;
    assert_eq!(d.input, [1, 6, 8]);
    let count = |f: &dyn Fn(&Op) -> bool| d.layers.iter().filter(|l| f(&l.op)).count();
    assert_eq!(count(&|o| *o == Op::MatMul), 2);
    assert_eq!(count(&|o| matches!(o, Op::Dense { .. })), 6);
    assert_eq!(count(&|o| matches!(o, Op::Softmax { axis: 2 })), 1);
    assert_eq!(count(&|o| matches!(o, Op::Act(Act::Erf))), 1);
    let spec = preset("isaac").unwrap();
    let r = nestevo_ppa::network_report(&spec, d, 1).unwrap();
    // 7 crossbar layers: q, k, v, out, fc1, fc2 and the head's linear layer.
    assert_eq!(r.layers.len(), 7);
    let ops = |op: &str| r.digital_by_op.iter().find(|x| x.op == op).map(|x| x.ops);
    // Q.K^T: 2 heads x 6 x 6 outputs x 4 MACs, A.V: 2 x 6 x 4 x 6, 2 operations per MAC.
    assert_eq!(ops("matmul"), Some(2 * (2 * 6 * 6 * 4) * 2));
    assert_eq!(ops("softmax"), Some(7 * 2 * 6 * 6));
    assert_eq!(ops("layernorm"), Some(7 * 2 * 6 * 8));
    assert!(r.energy_per_frame_pj.digital > 0.0);
    let text = nestevo_ppa::render_network(&r);
    assert!(text.contains("digital work per frame by op"), "{text}");
}

/// An op still unsupported is refused naming the node, its op and the supported list, which
/// now names the new ops.
#[test]
fn unsupported_op_is_refused_with_the_list() {
    let m = import_onnx(&data("unsupported_cos.onnx"))
        .unwrap_err()
        .to_string();
    assert!(m.contains("node `head/cos`"), "{m}");
    assert!(m.contains("op `Cos` is not supported"), "{m}");
    for op in [
        "Softmax",
        "LayerNormalization",
        "Transpose",
        "HardSwish",
        "Split",
    ] {
        assert!(m.contains(op), "{op} missing from: {m}");
    }
}

/// Shape arithmetic (Shape, Gather, Div, Unsqueeze, Concat) is folded into a Reshape's target
/// at import; a layer-scale Mul, a class-token Concat and a position-embedding Add keep their
/// constants as `const` layers.
#[test]
fn shape_arithmetic_folds_and_constants_become_layers() {
    let imp = check("fold_const", 2, 0.0);
    let consts = imp
        .desc
        .layers
        .iter()
        .filter(|l| matches!(l.op, Op::Const { .. }))
        .count();
    assert_eq!(consts, 3);
    assert!(!kinds(&imp).contains(&"gather"));
}

/// Attention as torch exports `nn.MultiheadAttention` (torchvision's ViT): the batch axis
/// moved and merged with heads, a fused in-projection and a Gemm on token rows, read for one
/// frame; float within 1e-4 of onnxruntime, crossbars within 2e-2.
#[test]
fn multihead_attention_moving_the_batch() {
    let imp = check("mha", 1, 2e-2);
    let count = |f: &dyn Fn(&Op) -> bool| imp.desc.layers.iter().filter(|l| f(&l.op)).count();
    assert_eq!(count(&|o| matches!(o, Op::Dense { bias: true, .. })), 2);
    assert_eq!(count(&|o| *o == Op::MatMul), 2);
}

/// A tiny Swin Transformer as torchvision builds it and torch exports it
/// (scripts/make_onnx_swin_testdata.py): the rank-6 window partition (four moving groups of
/// axes, several `transpose` layers), the cyclic shift, a Pad to whole windows that is not 0
/// (a `concat` with `const` zeros), the position bias and the shifted-window mask added with
/// broadcasting (the mask folded from ScatterND), Q.K^T and A.V over windows and heads, Softmax
/// on the last of four axes. Float within 1e-4 of onnxruntime, crossbars within 2e-2, and the
/// performance model maps it.
#[test]
fn swin_windows_shifts_and_padding() {
    let imp = check("swin", 1, 2e-2);
    let d = &imp.desc;
    let count = |f: &dyn Fn(&Op) -> bool| d.layers.iter().filter(|l| f(&l.op)).count();
    // Two products per block, four blocks.
    assert_eq!(count(&|o| *o == Op::MatMul), 8);
    assert_eq!(count(&|o| matches!(o, Op::Softmax { .. })), 4);
    // The grid padded 10 -> 12 and 5 -> 6 on both axes: zeros concatenated, no `pad` layer
    // (that one pads H and W of [C, H, W], and these are Swin's [H, W, C]).
    assert!(count(&|o| matches!(o, Op::Const { .. })) >= 4);
    // qkv, proj, fc1, fc2 per block, the patch merging's reduction, the head.
    assert_eq!(count(&|o| matches!(o, Op::Dense { .. })), 17);
    let spec = preset("isaac").unwrap();
    let r = nestevo_ppa::network_report(&spec, d, 1).unwrap();
    let ops = |op: &str| r.digital_by_op.iter().find(|x| x.op == op).map(|x| x.ops);
    // Q.K^T and A.V: 16 windows x 2 heads x 9 x 9 x 4 MACs each in stage 1 (12 x 12 tokens of
    // 8 channels), 4 windows x 2 heads x 9 x 9 x 8 in stage 2, two blocks each, 2 operations
    // per MAC.
    let mac = 2 * (16 * 2 * 9 * 9 * 4) + 2 * (4 * 2 * 9 * 9 * 8);
    assert_eq!(ops("matmul"), Some(2 * mac * 2));
}

/// Pad in constant mode with a value other than 0, on channels and W of a feature map and on
/// the token axis of [N, L, E]: `concat` layers of `const` values, float within 1e-4 of
/// onnxruntime and exact on the crossbars (no crossbar layer); another mode is refused naming
/// the node and the mode.
#[test]
fn pad_constant_and_refused_modes() {
    let imp = check("pad", 2, 0.0);
    assert!(kinds(&imp).contains(&"const"));
    let m = import_onnx(&data("pad_reflect.onnx"))
        .unwrap_err()
        .to_string();
    assert!(m.contains("node `body/pad`"), "{m}");
    assert!(m.contains("mode `reflect`"), "{m}");
}

/// Swin V2's blocks (scripts/make_onnx_swin_testdata.py): the continuous position bias, an MLP
/// on a constant table, folded at import (no crossbar layer for it); cosine attention's
/// F.normalize (ReduceL2 as `mul`, `reducemean`, `affine`, `sqrt`; Clip as `clip`; Expand as a
/// `mul` by ones) and its clamped, exponentiated per-head scale. Float within 1e-4 of
/// onnxruntime, crossbars within 2e-2.
#[test]
fn swin_v2_cosine_attention_and_folded_position_mlp() {
    let imp = check("swin_v2", 1, 2e-2);
    let count = |f: &dyn Fn(&Op) -> bool| imp.desc.layers.iter().filter(|l| f(&l.op)).count();
    // Only the blocks' qkv, proj, fc1, fc2, the reduction and the head go onto crossbars: the
    // position MLP's two linear layers per block were evaluated on their constant table.
    assert_eq!(count(&|o| matches!(o, Op::Dense { .. })), 17);
    // q and k normalised in each of the four blocks.
    assert_eq!(count(&|o| matches!(o, Op::Act(Act::Sqrt))), 8);
    assert_eq!(count(&|o| matches!(o, Op::Act(Act::Clip { .. }))), 8);
    assert_eq!(count(&|o| *o == Op::MatMul), 8);
}

/// MaxViT (scripts/make_onnx_swin_testdata.py): block and grid attention written as Einsum
/// (Q.K^T with the key's last two axes swapped first, A.V as it stands), MBConv with
/// squeeze-and-excitation, a classifier normalising flat features. Float within 1e-4 of
/// onnxruntime, crossbars within 2e-2; an Einsum that is not a matrix product is refused with
/// the equation named.
#[test]
fn maxvit_einsum_attention() {
    let imp = check("maxvit", 1, 2e-2);
    let count = |f: &dyn Fn(&Op) -> bool| imp.desc.layers.iter().filter(|l| f(&l.op)).count();
    // Two blocks, each with block and grid attention, two products each.
    assert_eq!(count(&|o| *o == Op::MatMul), 8);
    assert!(count(&|o| matches!(o, Op::LayerNorm { .. })) >= 1);
}

/// Einsum as batched matrix products (x.x^T, x^T.x, heads as a second batch axis): float within
/// 1e-4 of onnxruntime and crossbars within 2e-2 (the products run digitally on the quantised
/// activations); an outer product is refused naming the node and its equation.
#[test]
fn einsum_products_and_refused_equations() {
    let imp = check("einsum", 3, 2e-2);
    assert_eq!(
        imp.desc
            .layers
            .iter()
            .filter(|l| l.op == Op::MatMul)
            .count(),
        3
    );
    let m = import_onnx(&data("einsum_outer.onnx"))
        .unwrap_err()
        .to_string();
    assert!(m.contains("node `head/outer`"), "{m}");
    assert!(m.contains("equation `bi,bj->bij`"), "{m}");
}

/// Weights kept in external data (external.bin beside the .onnx file, as models over 2 GB are
/// saved) are read from the model's folder: float within 1e-4 of onnxruntime. The same bytes
/// without a folder, and a location outside the folder, are refused naming the tensor.
#[test]
fn external_data_is_read_from_the_models_folder() {
    check("external", 1, 2e-2);
    let bytes = std::fs::read(data("external.onnx")).unwrap();
    let m = nestevo_model::onnx::import_onnx_bytes(&bytes, "external.onnx", "external")
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("tensor `w` keeps its data in an external file"),
        "{m}"
    );
    let m = import_onnx(&data("external_escape.onnx"))
        .unwrap_err()
        .to_string();
    assert!(m.contains("external location `../external.bin`"), "{m}");
    assert!(m.contains("inside the model's folder"), "{m}");
}

/// The location's text stays inside the folder, but a symbolic link could lead out of it: the
/// resolved path must stay inside too (a link to a file within the folder is followed), and
/// only a regular file is read (a directory, a FIFO or a device never is).
#[cfg(unix)]
#[test]
fn external_data_through_links_and_non_files() {
    use std::os::unix::fs::symlink;
    let place = |dir: &Path| {
        std::fs::copy(data("external.onnx"), dir.join("external.onnx")).unwrap();
        dir.join("external.onnx")
    };
    let out = tempfile::tempdir().unwrap();
    let model = place(out.path());
    symlink(data("external.bin"), out.path().join("external.bin")).unwrap();
    let m = import_onnx(&model).unwrap_err().to_string();
    assert!(m.contains("tensor `w`"), "{m}");
    assert!(m.contains("leads out of the model's folder"), "{m}");

    let inside = tempfile::tempdir().unwrap();
    let model = place(inside.path());
    std::fs::copy(data("external.bin"), inside.path().join("real.bin")).unwrap();
    symlink("real.bin", inside.path().join("external.bin")).unwrap();
    let a = import_onnx(&model).unwrap();
    let b = import_onnx(&data("external.onnx")).unwrap();
    assert_eq!(a.desc, b.desc);

    let dir = tempfile::tempdir().unwrap();
    let model = place(dir.path());
    std::fs::create_dir(dir.path().join("external.bin")).unwrap();
    let m = import_onnx(&model).unwrap_err().to_string();
    assert!(m.contains("is not a regular file"), "{m}");
}

/// Exp, Sqrt, Clip with other bounds, ReduceL2 over channels and over W, Expand of a gate and
/// F.normalize as Swin V2 writes it, after a 1x1 Conv: float within 1e-4 of onnxruntime,
/// crossbars within 2e-2 (each op's digital arithmetic on the conv's crossbar outputs).
#[test]
fn exp_sqrt_clip_l2_and_expand() {
    let imp = check("norms", 7, 2e-2);
    let k = kinds(&imp);
    for op in ["exp", "sqrt", "clip", "reducemean", "mul", "div"] {
        assert!(k.contains(&op), "{op} missing from {k:?}");
    }
}
