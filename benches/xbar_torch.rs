//! The LibTorch crossbar engine next to the CPU kernels and plain products, in the same run:
//! (1) the ISAAC 1024x1024 layer on B input vectors, noiseless and with cell noise (mu 0.01);
//! (noiseless: the exact product, and the bit-serial tensors that run where it does not apply;
//! cell noise: also the analogue path's f32 products alone, at its chunks' shape, and its
//! variants: products from bf16 parts, the ADC in the products' epilogue, f16 parts and codes);
//! (2) the global detector (models/global.toml, random weights) on F stream frames,
//! bit-faithfully, noiseless and with cell noise. Prints Markdown tables (median of R runs
//! after one warm-up; every torch time includes the host -> device -> host copies).
//!
//! Run: cargo bench --bench xbar_torch
//! Knobs (environment): XBAR_BATCH (256), XBAR_REPS (3), XBAR_FRAMES (16), XBAR_FRAME_BATCH
//! (frames per forward, 8), XBAR_PART (all | layer | network), XBAR_CPU (1: also time the CPU
//! kernels; 0 skips them).

use ndarray::{Array2, ArrayD, IxDyn};
use nestevo_arch::preset;
use nestevo_cim::{Backend, CimMatrix, CimNetwork, NoiseMode, NoiseSpec};
use nestevo_couple::batch_from_frames;
use nestevo_data::StreamId;
use nestevo_eval::HeldOut;
use nestevo_kernels::InputMode;
use nestevo_model::{load_model, ModelDesc, Op, Tensors};
use nestevo_xbar_torch::{AnalogVariant, TorchEngine, TorchMatrix};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cell::{OnceCell, RefCell};
use std::time::Instant;
use tch::{Device, Kind, Tensor};

const K: usize = 1024;
const N: usize = 1024;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Median seconds of `reps` runs after one warm-up.
fn time<T>(reps: usize, mut f: impl FnMut() -> T) -> f64 {
    f();
    let mut t: Vec<f64> = (0..reps.max(1))
        .map(|_| {
            let t0 = Instant::now();
            std::hint::black_box(f());
            t0.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn sync(dev: Device) {
    if let Device::Cuda(i) = dev {
        tch::Cuda::synchronize(i as i64);
    }
}

fn layer(b: usize, reps: usize, with_cpu: bool, dev: Device) {
    let mut r = ChaCha8Rng::seed_from_u64(1);
    let w = Array2::from_shape_fn((K, N), |_| r.gen_range(-32768i64..32768));
    let x = Array2::from_shape_fn((b, K), |_| r.gen_range(0i64..65536));
    let spec = preset("isaac").unwrap();
    let none = NoiseSpec::default();
    let cell = NoiseSpec {
        mode: NoiseMode::Cell,
        mu: 0.01,
        read_mu: 0.0,
        seed: 1,
    };
    let macs = (b * K * N) as f64;
    println!(
        "\n### ISAAC layer {K}x{K}, batch {b} ({:.3e} MACs per run), torch device {dev:?}\n",
        macs
    );
    println!("| case | time | simulated MAC/s | vs plain product on its device |");
    println!("|---|---|---|---|");
    let (wf, xf) = (w.mapv(|v| v as f32), x.mapv(|v| v as f32));
    let plain_cpu = time(reps, || xf.dot(&wf));
    let row = |name: &str, s: f64, base: f64| {
        println!(
            "| {name} | {:.4} s | {:.3e} | {:.1}x |",
            s,
            macs / s,
            s / base
        );
    };
    row("plain f32 product, ndarray (CPU)", plain_cpu, plain_cpu);
    let wt = Tensor::from_slice(wf.as_slice().unwrap())
        .reshape([K as i64, N as i64])
        .to_device(dev);
    let xt = Tensor::from_slice(xf.as_slice().unwrap())
        .reshape([b as i64, K as i64])
        .to_device(dev);
    let plain_dev = time(reps, || {
        let y = xt.matmul(&wt);
        sync(dev);
        y
    });
    row("plain f32 product, LibTorch (device)", plain_dev, plain_dev);
    let torch = TorchEngine::on(dev).backend();
    for (name, noise) in [("noiseless", &none), ("cell noise mu 0.01", &cell)] {
        // The torch engine's times, for the goal's ratios against the CPU kernels at the end.
        let timed = RefCell::new(Vec::<(String, f64)>::new());
        let row = |name: &str, s: f64, base: f64| {
            timed.borrow_mut().push((name.to_string(), s));
            row(name, s, base)
        };
        let t0 = Instant::now();
        let mt = CimMatrix::program_on(&torch, &spec, w.view(), noise).unwrap();
        let prog_t = t0.elapsed().as_secs_f64();
        let tt = time(reps, || mt.mvm(x.view(), false).unwrap());
        row(
            &format!("torch engine, {name} (programming {prog_t:.2} s)"),
            tt,
            plain_dev,
        );
        // The same run with the inputs already on the device and the outputs left there, as a
        // layer runs inside the whole-network path (`net.rs`).
        let tm = mt
            .engine_matrix()
            .as_any()
            .and_then(|a| a.downcast_ref::<TorchMatrix>())
            .expect("a torch matrix");
        let xi = Tensor::from_slice(x.as_slice().unwrap())
            .reshape([b as i64, K as i64])
            .to_device(dev);
        let read = mt.read_noise();
        let td = time(reps, || {
            let y = tm.run_tensor(&xi, InputMode::Unsigned, read).unwrap();
            sync(dev);
            y
        });
        row(
            &format!("torch engine, {name}, inputs and outputs resident on the device"),
            td,
            plain_dev,
        );
        if noise.mode == NoiseMode::Cell {
            // The analogue path's f32 products alone, in the engine's chunks: how much of its
            // time is the product and how much the passes over the ADC inputs.
            let per = tm.chunk(b);
            let (t, rp, cols) = (8i64, 136i64, (N * 8 + 64) as i64);
            let cyc = 16 * per as i64;
            let xs = Tensor::randint(2, [t, cyc, rp], (Kind::Float, dev));
            let g = Tensor::rand([t, rp, cols], (Kind::Float, dev));
            let tp = time(reps, || {
                for v0 in (0..b).step_by(per) {
                    let bv = per.min(b - v0) as i64;
                    let _ = xs.narrow(1, 0, 16 * bv).bmm(&g);
                }
                sync(dev);
            });
            row(
                &format!("(its f32 products alone, in chunks of up to {per} vectors: [8, 16 x {per}, 136] x [8, 136, 8256])"),
                tp,
                plain_dev,
            );
            variants((&spec, &w, noise), &xi, tm, reps, dev, |name, s| {
                row(name, s, plain_dev)
            });
        }
        let (yd, _) = tm.run_tensor(&xi, InputMode::Unsigned, read).unwrap();
        let yd = Vec::<i64>::try_from(yd.to_device(Device::Cpu).reshape([-1])).unwrap();
        let (yh, _) = mt.mvm(x.view(), false).unwrap();
        let same = yh.iter().zip(&yd).filter(|(a, b)| a != b).count();
        println!(
            "| (check: {same} of {} resident outputs differ from the host entry's) | | | |",
            yd.len()
        );
        if noise.mode == NoiseMode::None {
            // The bit-serial tensors, which run wherever the exact product does not apply.
            let serial = TorchEngine::on(dev).with_exact_product(false).backend();
            let ms = CimMatrix::program_on(&serial, &spec, w.view(), noise).unwrap();
            let ts = time(reps, || ms.mvm(x.view(), false).unwrap());
            row("torch engine, noiseless, bit-serial tensors", ts, plain_dev);
        }
        if with_cpu {
            let mc = CimMatrix::program_on(&Backend::cpu(), &spec, w.view(), noise).unwrap();
            let tc = time(reps, || mc.mvm(x.view(), false).unwrap());
            row(&format!("CPU kernels, {name}"), tc, plain_cpu);
            let (yc, sc) = mc.mvm(x.view(), false).unwrap();
            let (yt, st) = mt.mvm(x.view(), false).unwrap();
            let diff = yc.iter().zip(&yt).filter(|(a, b)| a != b).count();
            println!(
                "| (check: {diff} of {} outputs differ; counts {}; torch/kernels time {:.1}) | | | |",
                yc.len(),
                if sc == st { "equal" } else { "DIFFER" },
                tt / tc
            );
            // The goal's reading: each torch row against the CPU kernels of this machine.
            for (what, t) in timed
                .borrow()
                .iter()
                .filter(|(w, _)| w.starts_with("torch engine"))
            {
                println!(
                    "| (goal: {what}: {:.1}x as fast as the CPU kernels) | | | |",
                    tc / t
                );
            }
        }
    }
}

/// The analogue path's variants beside the f32 one (`f32m`), each timed resident and checked
/// against it: products from bf16 parts (tensor cores on CUDA), the ADC in the f32 products'
/// epilogue, and products from f16 parts with f16 codes. A failure (an operation CUDA lacks)
/// is printed as a row.
fn variants(
    (spec, w, noise): (&nestevo_arch::ArchSpec, &Array2<i64>, &NoiseSpec),
    xi: &Tensor,
    f32m: &TorchMatrix,
    reps: usize,
    dev: Device,
    row: impl Fn(&str, f64),
) {
    let yf = OnceCell::new();
    for (name, variant) in [
        ("bf16-part products", AnalogVariant::Bf16),
        ("ADC in the products' epilogue", AnalogVariant::Epilogue),
        ("f16-part products, f16 codes", AnalogVariant::F16),
    ] {
        let eng = TorchEngine::on(dev).with_analog(variant).backend();
        let m = match CimMatrix::program_on(&eng, spec, w.view(), noise) {
            Ok(m) => m,
            Err(e) => {
                println!("| torch engine, cell noise, {name}: programming failed: {e} | | | |");
                continue;
            }
        };
        let tm = m
            .engine_matrix()
            .as_any()
            .and_then(|a| a.downcast_ref::<TorchMatrix>())
            .expect("a torch matrix");
        if variant != AnalogVariant::Bf16 && tm.epilogue_adc() != Some(variant) {
            println!(
                "| torch engine, cell noise, {name}: not taken (the bounds need the clamp) | | | |"
            );
            continue;
        }
        let run = |t: &TorchMatrix| -> Result<Vec<i64>, String> {
            let (y, _) = t
                .run_tensor(xi, InputMode::Unsigned, None)
                .map_err(|e| e.to_string())?;
            sync(dev);
            Vec::<i64>::try_from(y.to_device(Device::Cpu).reshape([-1])).map_err(|e| e.to_string())
        };
        match run(tm) {
            Err(e) => println!("| torch engine, cell noise, {name}: failed: {e} | | | |"),
            Ok(ys) => {
                let td = time(reps, || {
                    let y = tm.run_tensor(xi, InputMode::Unsigned, None).unwrap();
                    sync(dev);
                    y
                });
                row(
                    &format!("torch engine, cell noise mu 0.01, {name}, resident"),
                    td,
                );
                let yf = yf.get_or_init(|| run(f32m).expect("the f32 path ran above"));
                let diff = ys.iter().zip(yf).filter(|(a, b)| a != b).count();
                println!(
                    "| (check: {diff} of {} outputs differ from the f32 path's) | | | |",
                    ys.len()
                );
            }
        }
    }
}

/// Random tensors for every layer (Kaiming-uniform convs, batch-norms near identity).
fn random_tensors(desc: &ModelDesc, seed: u64) -> Tensors {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut t = Tensors::default();
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
                t.insert(
                    &format!("{n}.weight"),
                    u(&[*o, inp[0] / groups, kernel[0], kernel[1]], -a, a),
                );
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

fn network(frames: usize, per: usize, with_cpu: bool, dev: Device) {
    // From the repository root (a copied binary), else from where it was built.
    let rel = std::path::Path::new("models/global.toml");
    let path = if rel.is_file() {
        rel.to_path_buf()
    } else {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
    };
    let desc = load_model(&path).unwrap();
    let t = random_tensors(&desc, 3);
    let spec = preset("isaac").unwrap();
    let [_, h, w] = desc.input;
    let held = HeldOut::new(StreamId::Source, frames);
    let fr = held.render(w, h).unwrap();
    let calib = held.calibration(4).render(w, h).unwrap();
    let cx = batch_from_frames(&calib, &desc.name, desc.input).unwrap();
    let batches: Vec<_> = fr
        .chunks(per.max(1))
        .map(|c| batch_from_frames(c, &desc.name, desc.input).unwrap())
        .collect();
    println!(
        "\n### global detector (random weights), {frames} frames, {per} per forward, torch device {dev:?}\n"
    );
    println!("| case | crossbar forward time | per frame | float forward (same frames) |");
    println!("|---|---|---|---|");
    let cell = NoiseSpec {
        mode: NoiseMode::Cell,
        mu: 0.01,
        read_mu: 0.0,
        seed: 1,
    };
    let mut engines = vec![("torch", TorchEngine::on(dev).backend())];
    if with_cpu {
        engines.push(("CPU kernels", Backend::cpu()));
    }
    let mut outs = Vec::new();
    for noise in [NoiseSpec::default(), cell] {
        for (name, be) in &engines {
            let mut net = CimNetwork::new_on(&desc, &t, &spec, &noise, be).unwrap();
            net.calibrate(cx.view()).unwrap();
            let t0 = Instant::now();
            let mut first = None;
            for x in &batches {
                let (y, _) = net.forward_cim(x.view()).unwrap();
                first.get_or_insert(y);
            }
            let s = t0.elapsed().as_secs_f64();
            let t1 = Instant::now();
            for x in &batches {
                net.forward_float(x.view()).unwrap();
            }
            let f = t1.elapsed().as_secs_f64();
            println!(
                "| {name}, {:?} noise | {s:.2} s | {:.1} ms | {f:.2} s |",
                noise.mode,
                1e3 * s / frames as f64
            );
            outs.push(first.unwrap());
        }
        if outs.len() == 2 {
            let same = outs[0].iter().zip(&outs[1]).all(|(a, b)| a == b);
            println!(
                "| (check: first batch's heads {} between the engines) | | | |",
                if same { "equal" } else { "differ" }
            );
        }
        outs.clear();
    }
    let _ = Kind::Float;
}

fn main() {
    // `cargo bench` passes --bench; nothing else is read from the command line.
    // The binary's heap policy for LibTorch's CPU tensors, so that CPU-tensor rows time what
    // `nestevo` runs.
    nestevo_xbar_torch::keep_freed_heap();
    let dev = Device::cuda_if_available();
    let part = std::env::var("XBAR_PART").unwrap_or_else(|_| "all".into());
    let with_cpu = env("XBAR_CPU", 1) != 0;
    let reps = env("XBAR_REPS", 3);
    println!(
        "torch threads {}, CUDA devices {}, rayon threads {}",
        tch::get_num_threads(),
        tch::Cuda::device_count(),
        rayon::current_num_threads()
    );
    if part == "all" || part == "layer" {
        layer(env("XBAR_BATCH", 256), reps, with_cpu, dev);
    }
    if part == "all" || part == "network" {
        network(
            env("XBAR_FRAMES", 16),
            env("XBAR_FRAME_BATCH", 8),
            with_cpu,
            dev,
        );
    }
}
