//! The LibTorch crossbar engine (`nestevo_xbar_torch`, on CPU tensors here) against the CPU
//! kernels: the same outputs and the same event counts for every knob, the same conductances
//! and law under noise.
#![cfg(feature = "torch")]

use nestevo_cim::XbarEngine;
use nestevo_kernels::{AdcMode, InputMode, Programmed, XbarConfig};
use nestevo_xbar_torch::TorchEngine;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::Device;

fn cfg(
    (rows, cols, bpc): (usize, usize, u32),
    (wb, ib, dac, adc): (u32, u32, u32, u32),
    calibrated: Option<f64>,
    flip: bool,
) -> XbarConfig {
    XbarConfig {
        rows,
        cols,
        bits_per_cell: bpc,
        weight_bits: wb,
        input_bits: ib,
        dac_bits: dac,
        adc_bits: adc,
        adc_mode: calibrated.map_or(AdcMode::Exact, |f| AdcMode::Calibrated { full_scale: f }),
        flip,
        g_min: 0.5,
        g_max: 10.0,
    }
}

/// Weights over the whole signed range (or near its top, which saturates), inputs likewise.
fn data(
    c: &XbarConfig,
    (b, k, n): (usize, usize, usize),
    signed: bool,
    high: bool,
    seed: u64,
) -> (Vec<i64>, Vec<i64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let whi = (1i64 << (c.weight_bits - 1)) - 1;
    let w = (0..k * n)
        .map(|_| {
            if high {
                rng.gen_range(whi - whi / 4..=whi)
            } else {
                rng.gen_range(-whi - 1..=whi)
            }
        })
        .collect();
    let ib = c.input_bits;
    let x = (0..b * k)
        .map(|_| match (signed, high) {
            (true, _) => rng.gen_range(-(1i64 << (ib - 1))..(1i64 << (ib - 1))),
            (false, true) => rng.gen_range((1i64 << ib) * 3 / 4..(1i64 << ib)),
            (false, false) => rng.gen_range(0..(1i64 << ib)),
        })
        .collect();
    (w, x)
}

fn torch() -> TorchEngine {
    tch::set_num_threads(1);
    TorchEngine::on(Device::Cpu)
}

fn mode(signed: bool) -> InputMode {
    if signed {
        InputMode::Signed
    } else {
        InputMode::Unsigned
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Noiseless: y_int and every event count equal the CPU kernels' for random shapes and
    /// knobs (exact and calibrated ADC, saturating widths, flip on/off, signed/unsigned).
    #[test]
    fn exact_path_equals_kernels(
        rows in 16usize..=256,
        cols in prop::sample::select(vec![16usize, 64, 128, 256]),
        bpc in prop::sample::select(vec![1u32, 2, 4]),
        wb in prop::sample::select(vec![4u32, 8, 16]),
        ib in prop::sample::select(vec![4u32, 8, 16]),
        dac in prop::sample::select(vec![1u32, 2, 4]),
        adc_bits in 3u32..=12,
        calibrate in prop::option::of(0.25f64..1.5),
        flip in any::<bool>(),
        signed in any::<bool>(),
        high in any::<bool>(),
        k in 1usize..=1000,
        n in 1usize..=300,
        b in 1usize..=40,
        seed in any::<u64>(),
        // Chunks of a few vectors, so that splitting is exercised too.
        memory in prop::option::of(1usize..(4 << 20)),
    ) {
        let slices = (wb / bpc) as usize;
        prop_assume!(cols >= slices);
        // Calibrated full scale: a fraction of the largest column sum (below 1 saturates).
        let smax = (rows as u64 * ((1u64 << bpc) - 1) * ((1u64 << dac) - 1)) as f64;
        let c = cfg((rows, cols, bpc), (wb, ib, dac, adc_bits), calibrate.map(|f| (f * smax).max(1.0)), flip);
        let (w, x) = data(&c, (b, k, n), signed, high, seed);
        let cpu = Programmed::new(&c, &w, k, n).unwrap();
        let (ye, ce) = cpu.run(&x, b, mode(signed), None).unwrap();
        let mut eng = torch();
        if let Some(m) = memory {
            eng = eng.with_memory(m);
        }
        let tm = eng.program(&c, &w, k, n, None).unwrap();
        let (yt, ct) = tm.run(&x, b, mode(signed), None).unwrap();
        prop_assert_eq!(ct, ce);
        prop_assert!(yt == ye, "outputs differ for {:?}", c);
        prop_assert_eq!(tm.crossbars(), cpu.crossbars());
    }
}

/// Random tensors for every layer of `desc`, named as the trainer names them.
fn random_tensors(desc: &nestevo_model::ModelDesc, seed: u64) -> nestevo_model::Tensors {
    use ndarray::{ArrayD, IxDyn};
    use nestevo_model::Op;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut t = nestevo_model::Tensors::default();
    let mut u = |shape: &[usize], lo: f32, hi: f32| {
        ArrayD::from_shape_fn(IxDyn(shape), |_| rng.gen_range(lo..hi))
    };
    for step in desc.walk().unwrap() {
        let (l, inp) = (step.layer, step.input());
        let n = &l.name;
        match &l.op {
            Op::Conv {
                out_channels: o,
                kernel,
                groups,
                bias,
                ..
            } => {
                let a = (6.0 / (inp[0] / groups * kernel[0] * kernel[1]) as f32).sqrt();
                let shape = [*o, inp[0] / groups, kernel[0], kernel[1]];
                t.insert(&format!("{n}.weight"), u(&shape, -a, a));
                if *bias {
                    t.insert(&format!("{n}.bias"), u(&[*o], -0.1, 0.1));
                }
            }
            Op::Linear {
                out_features: o,
                bias,
            } => {
                let k: usize = inp.iter().product();
                let a = (3.0 / k as f32).sqrt();
                t.insert(&format!("{n}.weight"), u(&[*o, k], -a, a));
                if *bias {
                    t.insert(&format!("{n}.bias"), u(&[*o], -0.1, 0.1));
                }
            }
            Op::BatchNorm => {
                let c = inp[0];
                t.insert(&format!("{n}.weight"), u(&[c], 0.8, 1.2));
                t.insert(&format!("{n}.bias"), u(&[c], -0.1, 0.1));
                t.insert(&format!("{n}.running_mean"), u(&[c], -0.1, 0.1));
                t.insert(&format!("{n}.running_var"), u(&[c], 0.8, 1.2));
            }
            _ => {}
        }
    }
    t
}

/// `nestevo cim run --backend torch` end to end (a random-weight terminal checkpoint, one
/// frame): the report names the engine and its counts equal `--backend cpu`'s.
#[test]
fn cim_run_takes_the_torch_backend() {
    let dir = tempfile::tempdir().unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/models/terminal.toml");
    let desc = nestevo_model::load_model(std::path::Path::new(path)).unwrap();
    let w = dir.path().join("terminal.safetensors");
    random_tensors(&desc, 6).write(&w).unwrap();
    std::fs::copy(path, dir.path().join("terminal.toml")).unwrap();
    let run = |backend: &str| -> serde_json::Value {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_nestevo"))
            .args(["cim", "run", "--checkpoint"])
            .arg(&w)
            .args(["--frames", "1", "--calib-frames", "1", "--json"])
            .args(["--backend", backend])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let (c, t) = (run("cpu"), run("torch"));
    assert_eq!(
        (c["backend"].as_str(), t["backend"].as_str()),
        (Some("cpu"), Some("torch"))
    );
    assert_eq!(c["total"], t["total"]);
    assert_eq!(c["max_abs_diff"], t["max_abs_diff"]);
}
