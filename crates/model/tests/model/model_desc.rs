//! The shipped descriptions against published figures, shapes, matrices and the TOML round trip.

use nestevo_model::{load_model, parse_model, Op};
use std::path::Path;

fn model(name: &str) -> nestevo_model::ModelDesc {
    load_model(
        &Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("models")
            .join(name),
    )
    .unwrap()
}

#[test]
fn published_parameter_counts() {
    // torchvision: vgg16 138,357,544; resnet18 11,689,512.
    assert_eq!(model("vgg16.toml").params().unwrap(), 138_357_544);
    assert_eq!(model("resnet18.toml").params().unwrap(), 11_689_512);
}

#[test]
fn resnet18_shapes_and_matrices() {
    let m = model("resnet18.toml");
    let shapes = m.shapes().unwrap();
    let at = |n: &str| shapes[m.index_of(n).unwrap()];
    assert_eq!(at("conv1"), [64, 112, 112]);
    assert_eq!(at("pool1"), [64, 56, 56]);
    assert_eq!(at("l2b0_conv1"), [128, 28, 28]);
    assert_eq!(at("l4b1_relu2"), [512, 7, 7]);
    assert_eq!(at("gap"), [512, 1, 1]);
    assert_eq!(at("fc"), [1000, 1, 1]);
    let mats = m.matrices().unwrap();
    // 17 convs (incl. 3 downsampling 1x1) + 1 fc... 1 + 16 + 3 + 1 = 21
    assert_eq!(mats.len(), 21);
    assert_eq!(
        (mats[0].k, mats[0].n, mats[0].vectors),
        (3 * 49, 64, 112 * 112)
    );
    let fc = mats.last().unwrap();
    assert_eq!((fc.k, fc.n, fc.vectors), (512, 1000, 1));
    // Published: about 1.82 GMACs per 224x224 frame.
    let macs: u64 = mats.iter().map(|x| x.macs()).sum();
    assert_eq!(macs, 1_814_073_344);
    assert_eq!(m.outputs, vec!["fc".to_string()]);
}

#[test]
fn vgg16_macs() {
    let m = model("vgg16.toml");
    let macs: u64 = m.matrices().unwrap().iter().map(|x| x.macs()).sum();
    // Published: 15.47 GMACs.
    assert_eq!(macs, 15_470_264_320);
}

#[test]
fn round_trip_through_toml() {
    for name in ["vgg16.toml", "resnet18.toml"] {
        let m = model(name);
        let back = parse_model(&m.to_toml(), "round trip").unwrap();
        assert_eq!(back, m, "{name}");
    }
    // Every op and every non-default field survives.
    let text = r#"
name = "all"
input = [4, 18, 14]
outputs = ["cat", "fc"]
[[layers]]
name = "c"
op = "conv"
out_channels = 8
kernel = [3, 1]
stride = 2
padding = 1
dilation = 2
groups = 2
bias = false
[[layers]]
name = "b"
op = "bn"
[[layers]]
name = "r"
op = "relu"
[[layers]]
name = "mp"
op = "maxpool"
kernel = 3
stride = 1
padding = 1
[[layers]]
name = "ap"
op = "avgpool"
kernel = 2
[[layers]]
name = "up"
op = "upsample"
scale = 2
[[layers]]
name = "sum"
op = "add"
inputs = ["up", "r"]
[[layers]]
name = "cat"
op = "concat"
inputs = ["sum", "mp", "r"]
[[layers]]
name = "g"
op = "gap"
[[layers]]
name = "f"
op = "flatten"
[[layers]]
name = "fc"
op = "linear"
out_features = 5
"#;
    let m = parse_model(text, "all ops").unwrap();
    let shapes = m.shapes().unwrap();
    assert_eq!(shapes[0], [8, 8, 8]);
    assert_eq!(shapes[7], [24, 8, 8]);
    assert_eq!(shapes[10], [5, 1, 1]);
    assert!(matches!(
        m.layers[0].op,
        Op::Conv {
            kernel: [3, 1],
            dilation: 2,
            groups: 2,
            bias: false,
            ..
        }
    ));
    let mats = m.matrices().unwrap();
    assert_eq!(
        (mats[0].k, mats[0].n, mats[0].groups, mats[0].vectors),
        (2 * 3, 4, 2, 64)
    );
    let back = parse_model(&m.to_toml(), "round trip").unwrap();
    assert_eq!(back, m);
}

/// Clip keeps NaN (as torch's clamp does on the tensor engine) and clips numbers.
#[test]
fn clip_keeps_nan_and_clips_numbers() {
    let c = nestevo_model::Act::Clip {
        min: -1.0,
        max: 2.0,
    };
    assert!(c.apply(f32::NAN).is_nan());
    assert_eq!(
        [-5.0, 0.5, 7.0, f32::INFINITY].map(|x| c.apply(x)),
        [-1.0, 0.5, 2.0, 2.0]
    );
}
