//! Sweep points scored on the chip: the bit-faithful error of an imported network and a
//! detector's mAP as a sweep's score.

use nestevo_arch::preset;
use nestevo_model::load_model;
use nestevo_sweep::{run_sweep, Grid, Shard, SweepConfig};
use std::path::{Path, PathBuf};

fn model(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("models")
        .join(name)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// With frames, each valid point carries its bit-faithful error: small at a lossless ADC,
/// large where a narrow ADC saturates, and the same on a second run (seeded).
#[test]
fn accuracy_points_measure_the_bit_faithful_error() {
    use ndarray::{ArrayD, Axis};
    use nestevo_cim::NoiseSpec;
    use nestevo_couple::generic::as_frames;
    use nestevo_model::onnx::load_network;
    use nestevo_sweep::Accuracy;
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("tests/data/onnx");
    let (desc, t) = load_network(&dir.join("cnn.onnx"), None).unwrap();
    let x: ArrayD<f32> = ndarray_npy::read_npy(dir.join("cnn_x.npy")).unwrap();
    let x = as_frames(x, desc.input, "x").unwrap();
    let x = x.slice_axis(Axis(0), (0..2).into()).to_owned();
    let arch = preset("isaac").unwrap();
    let cfg = || SweepConfig {
        accuracy: Some(Box::new(
            Accuracy::new(
                x.clone(),
                x.clone(),
                NoiseSpec::default(),
                &[(desc.clone(), t.clone())],
                &arch,
                "test".into(),
            )
            .unwrap(),
        )),
        arch: arch.clone(),
        arch_source: "isaac".into(),
        grid: Grid::parse(&["adc.bits=4,8".into()]).unwrap(),
        models: vec![desc.clone()],
        shard: Shard::WHOLE,
        chunk: 1,
        progress: false,
    };
    let d = tempfile::tempdir().unwrap();
    run_sweep(&cfg(), &d.path().join("a.csv")).unwrap();
    run_sweep(&cfg(), &d.path().join("b.csv")).unwrap();
    let text = read(&d.path().join("a.csv"));
    assert_eq!(text, read(&d.path().join("b.csv")));
    let err: Vec<f64> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(11).unwrap().parse().unwrap())
        .collect();
    assert!(err[1] < 1e-3, "8-bit ADC: {}", err[1]);
    assert!(
        err[0] > 10.0 * err[1],
        "4-bit ADC: {} vs {}",
        err[0],
        err[1]
    );
}

/// A detector's crossbar mAP@0.5 plugs in as the score (couple's `DetectorScore`): every valid
/// point gets a score in [0, 1], and the metadata says higher is better.
#[test]
fn detector_map_scores_each_point() {
    use nestevo_cim::NoiseSpec;
    use nestevo_couple::sweep_score::DetectorScore;
    use nestevo_couple::RunConfig;
    use nestevo_data::StreamId;
    use nestevo_eval::HeldOut;
    use nestevo_model::{Op, Tensors};
    let desc = load_model(&model("terminal.toml")).unwrap();
    // Seeded weights of the right shapes (the mAP of an untrained detector is near 0; the
    // point here is the plumbing and the direction).
    let shapes = desc.shapes().unwrap();
    let mut t = Tensors::default();
    let mut k = 0u32;
    let mut fill = |shape: &[usize], scale: f32| {
        ndarray::ArrayD::from_shape_fn(shape, |_| {
            k = k.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            scale * ((k >> 8) as f32 / (1u32 << 24) as f32 - 0.5)
        })
    };
    for l in &desc.layers {
        let inp = match l.inputs[0].as_str() {
            "input" => desc.input,
            n => shapes[desc.index_of(n).unwrap()],
        };
        let n = &l.name;
        match &l.op {
            Op::Conv {
                out_channels: o,
                kernel,
                groups,
                ..
            } => {
                t.insert(
                    &format!("{n}.weight"),
                    fill(&[*o, inp[0] / groups, kernel[0], kernel[1]], 0.4),
                );
                t.insert(&format!("{n}.bias"), fill(&[*o], 0.2));
            }
            Op::BatchNorm => {
                for p in ["weight", "bias", "running_mean"] {
                    t.insert(&format!("{n}.{p}"), fill(&[inp[0]], 0.2));
                }
                t.insert(
                    &format!("{n}.running_var"),
                    ndarray::ArrayD::ones(vec![inp[0]]),
                );
            }
            Op::Linear { .. } => panic!("terminal.toml has no linear layer"),
            _ => {}
        }
    }
    let score = DetectorScore {
        tensors: vec![t],
        cfg: RunConfig {
            frames: HeldOut::new(StreamId::Source, 2),
            calib_frames: 1,
            noise: NoiseSpec::default(),
            backend: Default::default(),
            batch: nestevo_couple::FRAMES_PER_FORWARD,
        },
    };
    let cfg = SweepConfig {
        arch: preset("isaac").unwrap(),
        arch_source: "isaac".into(),
        grid: Grid::parse(&["dac.bits=1,3".into()]).unwrap(),
        models: vec![desc],
        shard: Shard::WHOLE,
        chunk: 2,
        progress: false,
        accuracy: Some(Box::new(score)),
    };
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("r.csv");
    run_sweep(&cfg, &out).unwrap();
    let text = read(&out);
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows[0][3], "ok");
    let s: f64 = rows[0][11].parse().unwrap();
    assert!((0.0..=1.0).contains(&s), "{s}");
    assert_eq!(rows[1][3], "invalid");
    let meta = read(&d.path().join("r.csv.meta.json"));
    assert!(
        meta.contains("\"higher_is_better\": true") && meta.contains("map50: crossbar mAP@0.5"),
        "{meta}"
    );
}
