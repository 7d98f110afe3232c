//! A whole network from a description and a checkpoint: the float reference computes each op
//! as written, the crossbar run agrees with it to quantisation error at a lossless ADC, noise
//! is seeded, bad checkpoints are refused by tensor name.

use crate::support::{max_abs_diff, random_tensors};
use ndarray::{Array1, Array4, ArrayD, ArrayView4, IxDyn};
use nestevo_arch::{apply_overrides, preset, ArchSpec};
use nestevo_cim::CimNetwork;
use nestevo_cim::{Conv2dShape, NoiseMode, NoiseSpec};
use nestevo_couple::load_checkpoint;
use nestevo_eval::decode::{decode, DecodeConfig, Heads};
use nestevo_model::Tensors;
use nestevo_model::{parse_model, ModelDesc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Every op the runner knows: a folded bn (c1, c2), an unfolded one (c3 is read twice),
/// groups, stride, pools, add, upsample, concat, the three heads and a gap-flatten-linear tail.
const TINY: &str = r#"
name = "tiny"
input = [3, 12, 12]
outputs = ["hm", "wh", "off", "fc"]
[[layers]]
name = "c1"
op = "conv"
out_channels = 6
kernel = 3
padding = 1
bias = false
[[layers]]
name = "c1_bn"
op = "bn"
[[layers]]
name = "c1_relu"
op = "relu"
[[layers]]
name = "pool"
op = "maxpool"
kernel = 2
stride = 2
[[layers]]
name = "c2"
op = "conv"
out_channels = 6
kernel = 3
padding = 1
groups = 2
bias = true
[[layers]]
name = "c2_bn"
op = "bn"
[[layers]]
name = "res"
op = "add"
inputs = ["c2_bn", "pool"]
[[layers]]
name = "relu2"
op = "relu"
[[layers]]
name = "c3"
op = "conv"
out_channels = 6
kernel = 3
stride = 2
padding = 1
bias = true
[[layers]]
name = "c3_bn"
op = "bn"
[[layers]]
name = "mix"
op = "add"
inputs = ["c3", "c3_bn"]
[[layers]]
name = "up"
op = "upsample"
scale = 2
[[layers]]
name = "cat"
op = "concat"
inputs = ["up", "relu2"]
[[layers]]
name = "avg"
op = "avgpool"
kernel = 3
stride = 1
padding = 1
[[layers]]
name = "hm"
op = "conv"
out_channels = 2
kernel = 1
bias = true
inputs = ["avg"]
[[layers]]
name = "wh"
op = "conv"
out_channels = 2
kernel = 1
bias = true
inputs = ["avg"]
[[layers]]
name = "off"
op = "conv"
out_channels = 2
kernel = 1
bias = true
inputs = ["avg"]
[[layers]]
name = "gap"
op = "gap"
inputs = ["avg"]
[[layers]]
name = "flat"
op = "flatten"
[[layers]]
name = "fc"
op = "linear"
out_features = 5
bias = true
"#;

fn tiny() -> ModelDesc {
    parse_model(TINY, "tiny.toml").unwrap()
}

fn frames_like(desc: &ModelDesc, b: usize, seed: u64) -> Array4<f32> {
    let [c, h, w] = desc.input;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array4::from_shape_fn((b, c, h, w), |_| rng.gen_range(0.0..1.0))
}

fn arr1(t: &Tensors, name: &str) -> Array1<f32> {
    t.map[name].clone().into_dimensionality().unwrap()
}

fn arr4(t: &Tensors, name: &str) -> Array4<f32> {
    t.map[name].clone().into_dimensionality().unwrap()
}

fn max_abs(a: &Array4<f32>) -> f32 {
    a.iter().fold(0f32, |m, x| m.max(x.abs()))
}

/// Direct convolution loops.
fn conv_ref(
    x: ArrayView4<f32>,
    w: &Array4<f32>,
    b: Option<Array1<f32>>,
    s: &Conv2dShape,
) -> Array4<f32> {
    let (n, _, h, wd) = x.dim();
    let (cout, cin_g, kh, kw) = w.dim();
    let (ho, wo) = s.output(h, wd, kh, kw).unwrap();
    let cout_g = cout / s.groups;
    Array4::from_shape_fn((n, cout, ho, wo), |(bi, o, oy, ox)| {
        let g = o / cout_g;
        let mut acc = b.as_ref().map_or(0.0, |b| b[o]);
        for c in 0..cin_g {
            for i in 0..kh {
                for j in 0..kw {
                    let y = (oy * s.stride.0 + i) as isize - s.padding.0 as isize;
                    let xx = (ox * s.stride.1 + j) as isize - s.padding.1 as isize;
                    if y >= 0 && xx >= 0 && (y as usize) < h && (xx as usize) < wd {
                        acc += w[[o, c, i, j]] * x[[bi, g * cin_g + c, y as usize, xx as usize]];
                    }
                }
            }
        }
        acc
    })
}

fn pool_ref(x: ArrayView4<f32>, k: usize, s: usize, p: usize, max: bool) -> Array4<f32> {
    let (n, c, h, w) = x.dim();
    let (ho, wo) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1);
    Array4::from_shape_fn((n, c, ho, wo), |(b, ch, oy, ox)| {
        let mut vals = Vec::new();
        let mut sum = 0.0;
        for i in 0..k {
            for j in 0..k {
                let (y, xx) = (
                    (oy * s + i) as isize - p as isize,
                    (ox * s + j) as isize - p as isize,
                );
                if y >= 0 && xx >= 0 && (y as usize) < h && (xx as usize) < w {
                    vals.push(x[[b, ch, y as usize, xx as usize]]);
                    sum += x[[b, ch, y as usize, xx as usize]];
                }
            }
        }
        if max {
            vals.into_iter().fold(f32::NEG_INFINITY, f32::max)
        } else {
            sum / (k * k) as f32
        }
    })
}

#[test]
fn float_reference_computes_each_op_directly() {
    let desc = tiny();
    let t = random_tensors(&desc, 1);
    let net = CimNetwork::new(&desc, &t, &preset("isaac").unwrap(), &NoiseSpec::default()).unwrap();
    let x = frames_like(&desc, 2, 2);
    let outs = net.forward_float_layers(x.view()).unwrap();
    let at = |n: &str| outs[desc.index_of(n).unwrap()].view();
    let sh = |stride, groups| Conv2dShape {
        stride: (stride, stride),
        padding: (1, 1),
        dilation: (1, 1),
        groups,
    };
    let bn = |name: &str, a: ArrayView4<f32>| {
        let (g, b, m, v) = (
            arr1(&t, &format!("{name}.weight")),
            arr1(&t, &format!("{name}.bias")),
            arr1(&t, &format!("{name}.running_mean")),
            arr1(&t, &format!("{name}.running_var")),
        );
        Array4::from_shape_fn(a.dim(), |(n, c, y, xx)| {
            (a[[n, c, y, xx]] - m[c]) / (v[c] + 1e-5).sqrt() * g[c] + b[c]
        })
    };
    let one = Conv2dShape::default();
    let expect: Vec<(&str, Array4<f32>)> = vec![
        (
            "c1",
            conv_ref(x.view(), &arr4(&t, "c1.weight"), None, &sh(1, 1)),
        ),
        ("c1_bn", bn("c1_bn", at("c1"))),
        ("c1_relu", at("c1_bn").mapv(|v| v.max(0.0))),
        ("pool", pool_ref(at("c1_relu"), 2, 2, 0, true)),
        (
            "c2",
            conv_ref(
                at("pool"),
                &arr4(&t, "c2.weight"),
                Some(arr1(&t, "c2.bias")),
                &sh(1, 2),
            ),
        ),
        ("c2_bn", bn("c2_bn", at("c2"))),
        ("res", &at("c2_bn") + &at("pool")),
        ("relu2", at("res").mapv(|v| v.max(0.0))),
        (
            "c3",
            conv_ref(
                at("relu2"),
                &arr4(&t, "c3.weight"),
                Some(arr1(&t, "c3.bias")),
                &sh(2, 1),
            ),
        ),
        ("c3_bn", bn("c3_bn", at("c3"))),
        ("mix", &at("c3") + &at("c3_bn")),
        (
            "up",
            Array4::from_shape_fn((2, 6, 6, 6), |(n, c, y, xx)| {
                at("mix")[[n, c, y / 2, xx / 2]]
            }),
        ),
        (
            "cat",
            Array4::from_shape_fn((2, 12, 6, 6), |(n, c, y, xx)| {
                if c < 6 {
                    at("up")[[n, c, y, xx]]
                } else {
                    at("relu2")[[n, c - 6, y, xx]]
                }
            }),
        ),
        ("avg", pool_ref(at("cat"), 3, 1, 1, false)),
        (
            "hm",
            conv_ref(
                at("avg"),
                &arr4(&t, "hm.weight"),
                Some(arr1(&t, "hm.bias")),
                &one,
            ),
        ),
        (
            "off",
            conv_ref(
                at("avg"),
                &arr4(&t, "off.weight"),
                Some(arr1(&t, "off.bias")),
                &one,
            ),
        ),
        (
            "gap",
            Array4::from_shape_fn((2, 12, 1, 1), |(n, c, _, _)| {
                at("avg").slice(ndarray::s![n, c, .., ..]).mean().unwrap()
            }),
        ),
        (
            "fc",
            Array4::from_shape_fn((2, 5, 1, 1), |(n, o, _, _)| {
                let w = &t.map["fc.weight"];
                let mut acc = arr1(&t, "fc.bias")[o];
                for c in 0..12 {
                    acc += w[[o, c]] * at("gap")[[n, c, 0, 0]];
                }
                acc
            }),
        ),
    ];
    for (name, want) in &expect {
        let d = max_abs_diff(at(name), want.view());
        assert!(
            d < 1e-4,
            "layer {name}: float reference differs from direct computation by {d}"
        );
    }
    assert_eq!(at("flat").dim(), (2, 12, 1, 1));
    assert_eq!(
        net.folded_layers(),
        vec!["c1_bn", "c2_bn"],
        "c3 is read twice: its bn stays digital"
    );
}

fn isaac_with(sets: &[String]) -> ArchSpec {
    apply_overrides(&preset("isaac").unwrap(), sets, "isaac").unwrap()
}

/// Float and crossbar outputs and the ADC saturations for `noise` on `spec`, calibrated on the
/// same frames (so that no activation clips and the difference is the arithmetic's alone).
fn cim_outputs(spec: &ArchSpec, noise: &NoiseSpec) -> (Vec<Array4<f32>>, Vec<Array4<f32>>, u64) {
    let desc = tiny();
    let t = random_tensors(&desc, 1);
    let mut net = CimNetwork::new(&desc, &t, spec, noise).unwrap();
    let x = frames_like(&desc, 2, 2);
    net.calibrate(x.view()).unwrap();
    let (cim, runs) = net.forward_cim(x.view()).unwrap();
    let sat = runs.iter().map(|r| r.stats.adc_saturations).sum();
    assert_eq!(
        runs.len(),
        7,
        "c1, c2, c3, three heads and fc run on crossbars"
    );
    (net.forward_float(x.view()).unwrap(), cim, sat)
}

#[test]
fn lossless_crossbars_match_float_to_quantisation_error() {
    let base = preset("isaac").unwrap();
    assert_eq!((base.data.weight_bits, base.data.input_bits), (16, 16));
    let spec = isaac_with(&[format!("adc.bits={}", base.lossless_adc_bits())]);
    let (float, cim, sat) = cim_outputs(&spec, &NoiseSpec::default());
    assert_eq!(sat, 0, "a lossless ADC never saturates");
    for (f, c) in float.iter().zip(&cim) {
        let (d, m) = (max_abs_diff(f.view(), c.view()), max_abs(f));
        // 16-bit weights and inputs over at most 4 crossbar layers: measured 3e-5 to 8e-5
        // relative. An unfolded bn measured 0.48; a skipped layer moves outputs as much.
        assert!(
            d <= 5e-4 * m,
            "crossbar output differs by {d} (float max {m})"
        );
        assert!(d > 0.0, "quantisation leaves some trace");
    }
    // A 3-bit ADC saturates and moves the outputs well beyond that.
    let (float3, cim3, sat3) =
        cim_outputs(&isaac_with(&["adc.bits=3".into()]), &NoiseSpec::default());
    assert!(sat3 > 0);
    let d3 = max_abs_diff(float3[0].view(), cim3[0].view());
    assert!(d3 > 1e-2 * max_abs(&float3[0]), "3-bit ADC diff {d3}");
}

#[test]
fn cell_noise_changes_outputs_and_its_seed_reproduces_them() {
    let spec = preset("isaac").unwrap();
    let noise = |seed| NoiseSpec {
        mode: NoiseMode::Cell,
        mu: 0.02,
        read_mu: 0.0,
        seed,
    };
    let (float, clean, _) = cim_outputs(&spec, &NoiseSpec::default());
    let (_, a, _) = cim_outputs(&spec, &noise(7));
    let (_, b, _) = cim_outputs(&spec, &noise(7));
    let (_, c, _) = cim_outputs(&spec, &noise(8));
    assert_eq!(a, b, "same seed, same outputs");
    let d_clean = max_abs_diff(float[0].view(), clean[0].view());
    let d_noisy = max_abs_diff(float[0].view(), a[0].view());
    assert!(
        d_noisy > 10.0 * d_clean,
        "noise {d_noisy} vs quantisation {d_clean}"
    );
    assert!(
        max_abs_diff(a[0].view(), c[0].view()) > 0.0,
        "another seed, other outputs"
    );
}

#[test]
fn checkpoints_round_trip_and_bad_tensors_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let desc = tiny();
    let t = random_tensors(&desc, 1);
    let w = dir.path().join("tiny.safetensors");
    t.write(&w).unwrap();
    std::fs::write(dir.path().join("tiny.toml"), TINY).unwrap();
    let (d2, t2) = load_checkpoint(&w, None).unwrap();
    assert_eq!(d2, desc);
    assert_eq!(t2.map, t.map);
    let spec = preset("isaac").unwrap();
    let err = |t: &Tensors| {
        format!(
            "{:#}",
            CimNetwork::new(&desc, t, &spec, &NoiseSpec::default())
                .err()
                .expect("refused")
        )
    };
    let mut bad = t2.clone();
    bad.insert("c2.weight", ArrayD::zeros(IxDyn(&[6, 6, 3, 3])));
    let e = err(&bad);
    assert!(
        e.contains("`c2.weight`") && e.contains("[6, 3, 3, 3]") && e.contains("tiny.safetensors"),
        "{e}"
    );
    let mut missing = t2.clone();
    missing.map.remove("c3_bn.running_var");
    let e = err(&missing);
    assert!(e.contains("`c3_bn.running_var` is missing"), "{e}");
    // Only f32 tensors are read.
    let half = vec![0u8; 2 * 6];
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F16, vec![6], &half).unwrap();
    let f16 = dir.path().join("half.safetensors");
    safetensors::serialize_to_file(vec![("c1_bn.weight", view)], &None, &f16).unwrap();
    let e = format!("{:#}", Tensors::read(&f16).unwrap_err());
    assert!(
        e.contains("`c1_bn.weight`") && e.contains("F16") && e.contains("F32"),
        "{e}"
    );
    let e = format!("{:#}", load_checkpoint(&f16, None).unwrap_err());
    assert!(e.contains("half.toml") && e.contains("missing"), "{e}");
}

#[test]
fn decoder_finds_peaks_with_their_sizes() {
    let (b, c, h, w) = (2, 2, 8, 8);
    let mut hm = Array4::from_elem((b, c, h, w), -8.0f32);
    hm[[0, 1, 2, 3]] = 2.0; // peak, score sigmoid(2)
    hm[[0, 1, 2, 4]] = 1.0; // beside a higher cell: suppressed
    hm[[1, 0, 7, 0]] = 0.0; // score 0.5 at the corner
    let mut wh = Array4::zeros((b, 2, h, w));
    let mut off = Array4::zeros((b, 2, h, w));
    wh[[0, 0, 2, 3]] = 2.0;
    wh[[0, 1, 2, 3]] = 1.0;
    off[[0, 0, 2, 3]] = 0.5;
    off[[0, 1, 2, 3]] = 0.25;
    let heads = Heads { hm, wh, off };
    let dets = decode(&heads, &[10, 11], (32, 32), &DecodeConfig::default()).unwrap();
    assert_eq!(dets.len(), 2, "{dets:?}");
    let d = dets[0];
    assert_eq!((d.image_id, d.class), (10, 1));
    assert!((d.score - 1.0 / (1.0 + (-2.0f32).exp())).abs() < 1e-6);
    // centre (3.5, 2.25) cells * 4 = (14, 9) px, size 8 x 4 px.
    assert_eq!([d.x0, d.y0, d.x1, d.y1], [10.0, 7.0, 18.0, 11.0]);
    let e = dets[1];
    assert_eq!((e.image_id, e.class, e.score), (11, 0, 0.5));
    assert_eq!([e.x0, e.y0, e.x1, e.y1], [0.0, 28.0, 0.0, 28.0]);
}

#[test]
fn calibration_returns_the_float_reference_of_its_frames() {
    let desc = tiny();
    let t = random_tensors(&desc, 3);
    let mut net =
        CimNetwork::new(&desc, &t, &preset("isaac").unwrap(), &NoiseSpec::default()).unwrap();
    let x = frames_like(&desc, 2, 5);
    let from_calibration = net.calibrate_outputs(x.view()).unwrap();
    let float = net.forward_float(x.view()).unwrap();
    assert_eq!(from_calibration.len(), desc.outputs.len());
    for (a, b) in from_calibration.iter().zip(&float) {
        // The same pass over the same frames: equal to the bit.
        assert_eq!(a, b);
    }
}
