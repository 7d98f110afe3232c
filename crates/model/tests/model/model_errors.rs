//! Bad descriptions fail with the file, the layer, the field and what is allowed.

use nestevo_model::{load_model, parse_model, ModelError};
use std::path::Path;

const HEAD: &str = "name = \"t\"\ninput = [3, 8, 8]\n";

fn err(body: &str) -> ModelError {
    parse_model(&format!("{HEAD}{body}"), "t.toml").expect_err("should be refused")
}

fn check(body: &str, layer: &str, field: &str, says: &str) {
    let e = err(body);
    assert_eq!(e.file, "t.toml");
    assert_eq!((e.layer.as_str(), e.field.as_str()), (layer, field), "{e}");
    assert!(e.to_string().contains(says), "`{e}` should say `{says}`");
}

#[test]
fn unknown_op() {
    check(
        "[[layers]]\nname = \"a\"\nop = \"lstm\"\n",
        "a",
        "op",
        "allowed: conv, linear",
    );
}

#[test]
fn unknown_input_and_forward_reference() {
    check(
        "[[layers]]\nname = \"a\"\nop = \"relu\"\ninputs = [\"nope\"]\n",
        "a",
        "inputs",
        "unknown input `nope`",
    );
    check(
        "[[layers]]\nname = \"a\"\nop = \"relu\"\ninputs = [\"b\"]\n[[layers]]\nname = \"b\"\nop = \"relu\"\n",
        "a",
        "inputs",
        "earlier layers",
    );
}

#[test]
fn add_and_concat_shape_mismatch() {
    let convs = "[[layers]]\nname = \"a\"\nop = \"conv\"\nout_channels = 4\nkernel = 1\n\
                 [[layers]]\nname = \"b\"\nop = \"conv\"\ninputs = [\"input\"]\nout_channels = 5\nkernel = 1\nstride = 2\n";
    check(
        &format!("{convs}[[layers]]\nname = \"s\"\nop = \"add\"\ninputs = [\"a\", \"b\"]\n"),
        "s",
        "inputs",
        "one shape",
    );
    check(
        &format!("{convs}[[layers]]\nname = \"c\"\nop = \"concat\"\ninputs = [\"a\", \"b\"]\n"),
        "c",
        "inputs",
        "H x W",
    );
    check(
        &format!("{convs}[[layers]]\nname = \"s\"\nop = \"add\"\n"),
        "s",
        "inputs",
        "at least 2 inputs",
    );
}

#[test]
fn kernel_larger_than_input() {
    check(
        "[[layers]]\nname = \"a\"\nop = \"conv\"\nout_channels = 4\nkernel = 9\n",
        "a",
        "kernel",
        "larger than the padded input 8x8",
    );
    check(
        "[[layers]]\nname = \"p\"\nop = \"maxpool\"\nkernel = 10\n",
        "p",
        "kernel",
        "larger",
    );
}

#[test]
fn zero_and_missing_fields() {
    check(
        "[[layers]]\nname = \"a\"\nop = \"conv\"\nout_channels = 4\nkernel = 3\nstride = 0\n",
        "a",
        "stride",
        "at least 1",
    );
    check(
        "[[layers]]\nname = \"a\"\nop = \"conv\"\nkernel = 3\n",
        "a",
        "out_channels",
        "required",
    );
    check(
        "[[layers]]\nname = \"a\"\nop = \"linear\"\n",
        "a",
        "out_features",
        "required",
    );
    check(
        "[[layers]]\nname = \"a\"\nop = \"relu\"\nkernel = 3\n",
        "a",
        "kernel",
        "not a field of op `relu`",
    );
    check(
        "[[layers]]\nname = \"a\"\nop = \"conv\"\nout_channels = 4\nkernel = 1\ngroups = 2\n",
        "a",
        "groups",
        "must divide",
    );
}

#[test]
fn names_and_outputs() {
    check(
        "[[layers]]\nname = \"a\"\nop = \"relu\"\n[[layers]]\nname = \"a\"\nop = \"relu\"\n",
        "a",
        "name",
        "unique",
    );
    check(
        "[[layers]]\nname = \"input\"\nop = \"relu\"\n",
        "input",
        "name",
        "not allowed",
    );
    check(
        "outputs = [\"zz\"]\n[[layers]]\nname = \"a\"\nop = \"relu\"\n",
        "",
        "outputs",
        "unknown layer `zz`",
    );
    let e = parse_model(
        "name = \"t\"\ninput = [0, 8, 8]\n[[layers]]\nname = \"a\"\nop = \"relu\"\n",
        "t.toml",
    )
    .unwrap_err();
    assert_eq!(e.field, "input");
}

#[test]
fn malformed_toml_and_missing_file() {
    let e = parse_model("name = \"t\"\ninput = [3, 8]\n", "t.toml").unwrap_err();
    assert!(e.to_string().starts_with("t.toml: "), "{e}");
    assert_eq!(e.field, "input", "{e}");
    let e = err("[[layers]]\nname = \"a\"\nop = \"relu\"\nkernal = 3\n");
    assert!(e.to_string().contains("kernal"), "{e}");
    assert_eq!(e.field, "layers[0].kernal", "{e}");
    // A value of the wrong type: the layer's field and the value, not a byte offset.
    let e = err(
        "[[layers]]\nname = \"a\"\nop = \"relu\"\n[[layers]]\nname = \"c\"\nop = \"conv\"\nout_channels = \"64\"\nkernel = 3\n",
    );
    assert_eq!(e.field, "layers[1].out_channels", "{e}");
    assert!(
        e.to_string().contains("\"64\"") && !e.to_string().contains("byte"),
        "{e}"
    );
    let e = load_model(Path::new("/no/such/model.toml")).unwrap_err();
    assert!(
        e.to_string().contains("/no/such/model.toml") && e.to_string().contains("cannot read"),
        "{e}"
    );
}

/// The ops of imported transformers and modern CNNs check their fields like the others.
#[test]
fn new_ops_name_their_fields() {
    let lin = "[[layers]]\nname = \"t\"\nop = \"reshape\"\nshape = [1, 12, 16]\n";
    check(
        &format!("{lin}[[layers]]\nname = \"s\"\nop = \"slice\"\naxis = 1\n"),
        "s",
        "end",
        "required for op `slice`",
    );
    check(
        &format!("{lin}[[layers]]\nname = \"p\"\nop = \"transpose\"\nperm = [0, 0, 1]\n"),
        "p",
        "perm",
        "a permutation of 0, 1, 2",
    );
    check(
        &format!("{lin}[[layers]]\nname = \"m\"\nop = \"matmul\"\n"),
        "m",
        "inputs",
        "takes exactly 2 inputs",
    );
    check(
        "[[layers]]\nname = \"r\"\nop = \"reshape\"\nshape = [5, 5, 5]\n",
        "r",
        "shape",
        "holds 125 values",
    );
    check(
        "[[layers]]\nname = \"g\"\nop = \"sigmoid\"\nalpha = 1.0\n",
        "g",
        "alpha",
        "not a field of op `sigmoid`",
    );
}

/// A checkpoint tensor of the wrong shape or holding an infinite or NaN value anywhere is refused
/// with its name, in a contiguous layout, a transposed one and a strided one.
#[test]
fn checkpoint_tensor_shape_and_non_finite() {
    use ndarray::{s, Array2};
    use nestevo_model::Tensors;
    let mut t = Tensors {
        source: "ck.safetensors".into(),
        map: Default::default(),
    };
    let w = Array2::from_shape_fn((40, 30), |(i, j)| (i as f32 - j as f32) * 0.1);
    let layouts = |w: &Array2<f32>| {
        let tall = ndarray::concatenate![ndarray::Axis(0), *w, *w];
        let every_other = tall.slice_move(s![..;2, ..]);
        assert!(every_other.as_slice_memory_order().is_none());
        [
            ("w", w.clone()),
            ("wt", w.clone().reversed_axes()),
            ("ws", every_other),
        ]
    };
    for (name, a) in layouts(&w) {
        let shape = a.shape().to_vec();
        t.insert(name, a.into_dyn());
        assert!(t.get(name, &shape).is_ok(), "{name}");
    }
    let e = t.get("w", &[30, 40]).unwrap_err().to_string();
    assert!(
        e.contains("`w` has shape [40, 30], expected [30, 40]"),
        "{e}"
    );
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut wb = w.clone();
        wb[[38, 29]] = bad;
        for (name, a) in layouts(&wb) {
            let shape = a.shape().to_vec();
            t.insert(name, a.into_dyn());
            let e = t.get(name, &shape).unwrap_err().to_string();
            assert!(
                e.contains(&format!("`{name}` holds a non-finite value")),
                "{e}"
            );
            assert!(e.contains("ck.safetensors"), "{e}");
        }
    }
}
