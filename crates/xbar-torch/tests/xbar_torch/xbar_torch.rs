//! The LibTorch crossbar engine (`nestevo_xbar_torch`, on CPU tensors here) against the CPU
//! kernels: the same outputs and the same event counts for every knob, the same conductances
//! and law under noise.

use nestevo_cim::{CellNoise, XbarEngine, XbarMatrix};
use nestevo_kernels::{AdcMode, Counts, InputMode, Programmed, ReadNoise, XbarConfig};
use nestevo_xbar_torch::{AnalogVariant, TorchEngine, TorchMatrix};
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

pub(super) fn torch() -> TorchEngine {
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
        ib in prop::sample::select(vec![4u32, 8, 16, 24]),
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
        // The exact product where it applies, or the bit-serial tensors always.
        product in any::<bool>(),
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
        let tm = TorchMatrix::program(&eng.with_exact_product(product), &c, &w, k, n, None).unwrap();
        // The shortcut applies exactly where the kernels take theirs.
        prop_assert_eq!(tm.exact_product(), product && cpu.exact_product());
        let (yt, ct) = tm.run(&x, b, mode(signed), None).unwrap();
        prop_assert_eq!(ct, ce);
        prop_assert!(yt == ye, "outputs differ for {:?}", c);
        prop_assert_eq!(tm.crossbars(), cpu.crossbars());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// The analogue path on nominal conductances (exact ADC): every code is the integer sum's,
    /// so outputs and every count, saturations included, equal the kernels' analogue path,
    /// whether the programmed bounds let the ADC skip its clamp and count (flipped ISAAC-like
    /// tiles) or not (saturating widths, flip off, high weights and inputs), in any chunking.
    #[test]
    fn analog_nominal_equals_kernels(
        rows in 16usize..=128,
        cols in prop::sample::select(vec![16usize, 64, 128]),
        bpc in prop::sample::select(vec![1u32, 2]),
        wb in prop::sample::select(vec![4u32, 8]),
        ib in prop::sample::select(vec![4u32, 8, 16]),
        dac in prop::sample::select(vec![1u32, 2]),
        adc_bits in 3u32..=9,
        flip in any::<bool>(),
        signed in any::<bool>(),
        high in any::<bool>(),
        k in 1usize..=300,
        n in 1usize..=80,
        b in 1usize..=12,
        seed in any::<u64>(),
        memory in prop::option::of(1usize..(4 << 20)),
        // The default f32 products, the products from bf16 parts of the cells (f32 products
        // of them on the CPU), the ADC in the products' epilogue where the bounds let it, the
        // products from f16 parts with their codes in f16 where the bounds let it.
        variant in prop::sample::select(AnalogVariant::ALL.to_vec()),
    ) {
        let slices = (wb / bpc) as usize;
        prop_assume!(cols >= slices);
        let c = cfg((rows, cols, bpc), (wb, ib, dac, adc_bits), None, flip);
        let (w, x) = data(&c, (b, k, n), signed, high, seed);
        let nominal = CellNoise::programming(0.0, 1);
        let cpu = Programmed::new(&c, &w, k, n).unwrap().program_cells(&nominal.laws, 1).unwrap();
        let (ye, ce) = cpu.run(&x, b, mode(signed), None).unwrap();
        let mut eng = torch().with_analog(variant);
        if let Some(m) = memory {
            eng = eng.with_memory(m);
        }
        let tm = TorchMatrix::program(&eng, &c, &w, k, n, Some(nominal)).unwrap();
        let free = tm.analog_bounds() == (false, false);
        let codes_below = match variant {
            AnalogVariant::F16 => 512,
            AnalogVariant::Epilogue => 1024,
            AnalogVariant::F32 | AnalogVariant::Bf16 => 0,
        };
        prop_assert_eq!(
            tm.epilogue_adc(),
            (free && c.max_code() < codes_below).then_some(variant)
        );
        let (yt, ct) = tm.run(&x, b, mode(signed), None).unwrap();
        prop_assert_eq!(ct, ce);
        prop_assert!(yt == ye, "outputs differ for {:?}", c);
    }
}

/// Cell noise where the ADC must clamp at both ends: conductances below g_min (a measured
/// table whose level 0 sits under it, and columns of level 0 only, whose currents fall below
/// the offset) and above the
/// ADC's range (flip off, a 6-bit ADC, high weights and inputs; then a calibrated ADC whose
/// full scale is a third of the largest sum, 64 of 192). Outputs and saturations agree with the kernels'
/// but for f32 rounding at code boundaries.
#[test]
fn cell_noise_clamps_as_the_kernels() {
    let table = nestevo_device::table::Table {
        file: "test".into(),
        levels: vec![(0.1, 0.4), (3.7, 0.3), (6.8, 0.3), (10.0, 0.2)],
    };
    let laws: Vec<std::sync::Arc<dyn nestevo_device::CellLaw>> = vec![std::sync::Arc::new(table)];
    let (b, k, n) = (16, 200, 24);
    // (ADC bits, calibrated full scale, signed inputs): the first cannot saturate (1023 codes
    // against sums up to 192) but still clamps at 0.
    for (adc, calibrated, signed) in [(10, None, false), (6, None, false), (6, Some(64.0), true)] {
        let c = cfg((64, 64, 2), (8, 8, 1, adc), calibrated, false);
        let (mut w, x) = data(&c, (b, k, n), signed, true, 21);
        // Every third output's weights at the bottom of the range: all its cells at level 0,
        // whose currents fall below the offset.
        for row in w.chunks_mut(n) {
            row.iter_mut().step_by(3).for_each(|v| *v = -128);
        }
        let cells = CellNoise {
            laws: laws.clone(),
            seed: 4,
        };
        let tm = torch().program(&c, &w, k, n, Some(cells.clone())).unwrap();
        let cpu = Programmed::new(&c, &w, k, n)
            .unwrap()
            .program_cells(&cells.laws, cells.seed)
            .unwrap();
        let (yt, ct) = tm.run(&x, b, mode(signed), None).unwrap();
        let (ye, ce) = cpu.run(&x, b, mode(signed), None).unwrap();
        assert!((ce.adc_saturations > 1000) == (adc == 6), "{ce:?}");
        let (st, se) = (ct.adc_saturations as f64, ce.adc_saturations as f64);
        assert!(
            (st - se).abs() <= 0.01 * se.max(100.0),
            "saturations {st} vs {se}"
        );
        let diff = yt.iter().zip(&ye).filter(|(a, b)| a != b).count();
        assert!(
            diff * 100 <= yt.len(),
            "{diff} of {} outputs differ from the kernels'",
            yt.len()
        );
    }
}

/// Refusals are the kernels': out-of-range weights and inputs, inconsistent knobs, read noise
/// without conductances.
#[test]
fn refuses_what_the_kernels_refuse() {
    let c = isaac();
    let e = torch();
    let err = e
        .program(&c, &[1 << 15], 1, 1, None)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("outside the signed 16-bit range"), "{err}");
    let bad = XbarConfig {
        bits_per_cell: 3,
        ..c.clone()
    };
    assert!(e.program(&bad, &[0], 1, 1, None).is_err());
    let m = e.program(&c, &[5, -3], 2, 1, None).unwrap();
    let err = m
        .run(&[-1, 0], 1, InputMode::Unsigned, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("input [0, 0] = -1 is outside"), "{err}");
    let err = m
        .run(
            &[1, 0],
            1,
            InputMode::Unsigned,
            Some(ReadNoise { mu: 0.1, seed: 1 }),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("read noise needs the analogue path"), "{err}");
}

/// The device entry (`run_tensor`, inputs already a tensor) refuses what the host entry
/// refuses, and a tensor of the wrong shape or kind, each in one line saying what it expected.
#[test]
fn device_entry_refuses_bad_tensors() {
    use tch::{Kind, Tensor};
    let c = isaac();
    let m = TorchMatrix::program(&torch(), &c, &[5, -3], 2, 1, None).unwrap();
    let ok = Tensor::from_slice(&[1i64, 2]).view([1, 2]);
    let (y, _) = m.run_tensor(&ok, InputMode::Unsigned, None).unwrap();
    assert_eq!(Vec::<i64>::try_from(y.view([-1])).unwrap(), vec![5 - 6]);
    let refuse =
        |x: &Tensor, read: Option<ReadNoise>| match m.run_tensor(x, InputMode::Unsigned, read) {
            Ok(_) => panic!("accepted {:?}", x.size()),
            Err(e) => e.to_string(),
        };
    let e = refuse(&Tensor::from_slice(&[1i64, 2, 3]).view([1, 3]), None);
    assert!(
        e.contains("[1, 3]") && e.contains("expected [batch, K 2] Int64"),
        "{e}"
    );
    let e = refuse(&Tensor::from_slice(&[1i64, 2]), None);
    assert!(
        e.contains("[2]") && e.contains("expected [batch, K 2]"),
        "{e}"
    );
    let e = refuse(&ok.to_kind(Kind::Float), None);
    assert!(e.contains("Float") && e.contains("Int64"), "{e}");
    let e = refuse(&Tensor::from_slice(&[-1i64, 0]).view([1, 2]), None);
    assert!(e.contains("input [0, 0] = -1 is outside"), "{e}");
    let e = refuse(&ok, Some(ReadNoise { mu: 0.1, seed: 1 }));
    assert!(e.contains("read noise needs the analogue path"), "{e}");
}

/// ISAAC's knobs with two-bit cells (the shape the noise tests use).
fn isaac() -> XbarConfig {
    cfg((128, 128, 2), (16, 16, 1, 8), None, true)
}

/// Analogue path without noise (conductances g_min + level * step): the exact product, as the
/// kernels' analogue path gives it, with the same counts. With an ADC wide enough for every
/// column sum (128 rows x 3 x 15 < 2^16: lossless); with a 10-bit ADC on the ADC in the
/// products' epilogue (codes up to 1023, the most its f16 low halves hold), and a 9-bit one on
/// the f16 products (codes up to 511, the most 1536 + code holds), whose shift-and-adds of
/// 16-bit inputs need several groups added in i64 (511 (2^16 - 1) >= 2^24), signed inputs'
/// negative top cycle included.
#[test]
fn noiseless_conductances_are_exact() {
    let floor =
        [(1u32, false), (1, true), (2, true), (4, false)].map(|d| (d, 16, AnalogVariant::F32));
    let epilogue = [(1u32, false), (1, true), (2, true)].map(|d| (d, 10, AnalogVariant::Epilogue));
    let f16 = [(1u32, false), (1, true)].map(|d| (d, 9, AnalogVariant::F16));
    let cases = floor.into_iter().chain(epilogue).chain(f16);
    for ((dac, signed), adc_bits, variant) in cases {
        let c = XbarConfig {
            dac_bits: dac,
            adc_bits,
            ..isaac()
        };
        let (b, k, n) = (6, 300, 40);
        let (w, x) = data(&c, (b, k, n), signed, false, 11);
        let cells = Some(CellNoise::programming(0.0, 3));
        let tm = TorchMatrix::program(&torch().with_analog(variant), &c, &w, k, n, cells).unwrap();
        let coded = variant != AnalogVariant::F32;
        assert_eq!(tm.epilogue_adc(), coded.then_some(variant));
        let (yt, ct) = tm.run(&x, b, mode(signed), None).unwrap();
        let cpu = Programmed::new(&c, &w, k, n).unwrap();
        let (ye, ce) = cpu.run(&x, b, mode(signed), None).unwrap();
        let case = format!("dac {dac}, adc {adc_bits}");
        assert_eq!(ct, ce, "{case}");
        assert_eq!(yt, ye, "{case}");
        assert_eq!(yt, product(&x, &w, (b, k, n)), "{case}");
    }
}

/// The integer product x w of a [b, k] batch with [k, n] weights.
fn product(x: &[i64], w: &[i64], (b, k, n): (usize, usize, usize)) -> Vec<i64> {
    (0..b)
        .flat_map(|v| (0..n).map(move |o| (0..k).map(|r| x[v * k + r] * w[r * n + o]).sum()))
        .collect()
}

/// 24-bit inputs take the analogue shift-and-add past f32's exact integers (192 * 2^23 per
/// column alone), so it must accumulate in f64: noiseless conductances still give the product.
#[test]
fn wide_inputs_take_the_f64_accumulator() {
    let c = XbarConfig {
        input_bits: 24,
        ..isaac()
    };
    let (b, k, n) = (4, 260, 24);
    let (w, x) = data(&c, (b, k, n), false, true, 17);
    let cells = Some(CellNoise::programming(0.0, 3));
    let tm = torch().program(&c, &w, k, n, cells).unwrap();
    let (yt, _) = tm.run(&x, b, InputMode::Unsigned, None).unwrap();
    assert_eq!(yt, product(&x, &w, (b, k, n)));
}

/// Cell noise and device laws: the conductances are the kernels' draws, so outputs equal the
/// CPU analogue path's except where f32 rounding of a column current (another summation order)
/// crosses a code boundary; all counts but saturations are equal, saturations nearly so.
#[test]
fn cell_noise_matches_kernels_draws() {
    let c = isaac();
    let (b, k, n) = (24, 384, 64);
    let (w, x) = data(&c, (b, k, n), false, false, 5);
    let laws = [
        "programming:mu=0.02",
        "stuck:off_rate=0.005,on_rate=0.002",
        "drift:time_s=3600",
    ]
    .map(|l| nestevo_device::build(&l.parse().unwrap()).unwrap());
    let cells = CellNoise {
        laws: laws.to_vec(),
        seed: 9,
    };
    let cpu = Programmed::new(&c, &w, k, n)
        .unwrap()
        .program_cells(&cells.laws, cells.seed)
        .unwrap();
    let (ye, ce) = cpu.run(&x, b, InputMode::Unsigned, None).unwrap();
    let mut yt = Vec::new();
    // The f32 cells, and their bf16 parts; the ADC after the product and in its epilogue.
    for variant in [
        AnalogVariant::F32,
        AnalogVariant::Bf16,
        AnalogVariant::Epilogue,
    ] {
        let eng = torch().with_analog(variant);
        let tm = TorchMatrix::program(&eng, &c, &w, k, n, Some(cells.clone())).unwrap();
        let free = tm.analog_bounds() == (false, false);
        let coded = variant == AnalogVariant::Epilogue && free;
        assert_eq!(tm.epilogue_adc(), coded.then_some(variant));
        let ct;
        (yt, ct) = tm.run(&x, b, InputMode::Unsigned, None).unwrap();
        let same = |a: Counts| Counts {
            adc_saturations: 0,
            ..a
        };
        assert_eq!(same(ct), same(ce));
        let diff = yt.iter().zip(&ye).filter(|(a, b)| a != b).count();
        assert!(
            diff * 100 <= yt.len(),
            "{variant:?}: {diff} of {} outputs differ from the kernels'",
            yt.len()
        );
        let (st, se) = (ct.adc_saturations as f64, ce.adc_saturations as f64);
        assert!(
            (st - se).abs() <= 0.01 * se.max(100.0),
            "{variant:?}: saturations {st} vs {se}"
        );
    }
    // Flipped ISAAC tiles, conductances within [g_min, g_max]: no input can take a conversion
    // out of range, so the ADC needs neither its clamp nor its count (the fast path), and the
    // epilogue can take it. Its codes round ties to even where the floor takes them up: the
    // outputs equal the floor's but where a conversion is a tie in f32.
    let prog = CellNoise::programming(0.01, 2);
    let cpu = Programmed::new(&c, &w, k, n)
        .unwrap()
        .program_cells(&prog.laws, prog.seed)
        .unwrap();
    let (ye, ce) = cpu.run(&x, b, InputMode::Unsigned, None).unwrap();
    let mut runs = Vec::new();
    for variant in [
        AnalogVariant::F32,
        AnalogVariant::Epilogue,
        AnalogVariant::F16,
    ] {
        let eng = torch().with_analog(variant);
        let tm = TorchMatrix::program(&eng, &c, &w, k, n, Some(prog.clone())).unwrap();
        assert_eq!(tm.analog_bounds(), (false, false));
        let coded = variant != AnalogVariant::F32;
        assert_eq!(tm.epilogue_adc(), coded.then_some(variant));
        let (y, ct) = tm.run(&x, b, InputMode::Unsigned, None).unwrap();
        assert_eq!(ct, ce);
        runs.push(y);
    }
    let diff = |a: &[i64], b: &[i64]| a.iter().zip(b).filter(|(a, b)| a != b).count();
    let n_out = ye.len();
    eprintln!(
        "outputs differing of {n_out}: floor {}, epilogue {}, f16 {} from the kernels'; \
         epilogue {}, f16 {} from the floor path's",
        diff(&runs[0], &ye),
        diff(&runs[1], &ye),
        diff(&runs[2], &ye),
        diff(&runs[0], &runs[1]),
        diff(&runs[0], &runs[2])
    );
    assert!(
        diff(&runs[0], &runs[1]) * 200 <= n_out,
        "epilogue against floor"
    );
    assert!(
        diff(&runs[1], &ye) * 100 <= n_out,
        "epilogue against the kernels"
    );
    assert!(
        diff(&runs[2], &ye) * 100 <= n_out,
        "f16 against the kernels"
    );
    // And the noise is really there: far from the exact product.
    let exact = Programmed::new(&c, &w, k, n).unwrap();
    let (y0, _) = exact.run(&x, b, InputMode::Unsigned, None).unwrap();
    assert!(yt.iter().zip(&y0).filter(|(a, b)| a != b).count() * 2 > yt.len());
}

/// Two-sample Kolmogorov-Smirnov statistic sup |F_a - F_b|.
fn ks(mut a: Vec<f64>, mut b: Vec<f64>) -> f64 {
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0f64);
    while i < a.len() && j < b.len() {
        let v = a[i].min(b[j]);
        while i < a.len() && a[i] <= v {
            i += 1;
        }
        while j < b.len() && b[j] <= v {
            j += 1;
        }
        d = d.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    d
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let s = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt();
    (m, s)
}

/// Read noise is drawn on the device, so only its law is the kernels': the errors
/// y_noisy - y_exact of both engines pass a two-sample KS test (alpha = 0.001), their means
/// and standard deviations agree within sampling error, and the torch draws repeat from a seed.
#[test]
fn read_noise_has_the_kernels_law() {
    let c = isaac();
    let (b, k, n) = (200, 128, 48);
    let (w, x) = data(&c, (b, k, n), false, false, 21);
    let cells = Some(CellNoise::programming(0.0, 1));
    let read = Some(ReadNoise { mu: 0.01, seed: 77 });
    let cpu = Programmed::new(&c, &w, k, n)
        .unwrap()
        .program_conductances(0.0, 1)
        .unwrap();
    let (y0, _) = cpu.run(&x, b, InputMode::Unsigned, None).unwrap();
    let (ye, _) = cpu.run(&x, b, InputMode::Unsigned, read).unwrap();
    let tm = torch().program(&c, &w, k, n, cells).unwrap();
    let (yt, ct) = tm.run(&x, b, InputMode::Unsigned, read).unwrap();
    let (yt2, ct2) = tm.run(&x, b, InputMode::Unsigned, read).unwrap();
    assert_eq!((&yt, ct), (&yt2, ct2), "same seed, same draws");
    let err = |y: &[i64]| -> Vec<f64> { y.iter().zip(&y0).map(|(a, b)| (a - b) as f64).collect() };
    let (ee, et) = (err(&ye), err(&yt));
    let (me, se) = mean_sd(&ee);
    let (mt, st) = mean_sd(&et);
    assert!(se > 0.0 && st > 0.0, "read noise changed nothing");
    let nn = ee.len() as f64;
    // Means within 4 standard errors of their difference; deviations within 10 %.
    assert!(
        (me - mt).abs() < 4.0 * (se * se / nn + st * st / nn).sqrt(),
        "means {me} vs {mt}"
    );
    assert!((se / st - 1.0).abs() < 0.1, "sd {se} vs {st}");
    let d = ks(ee, et);
    let crit = 1.95 * (2.0 / nn).sqrt();
    assert!(d < crit, "KS statistic {d} >= {crit}");
}

/// Random tensors for every layer of `desc`, named as the trainer names them.
pub(super) fn random_tensors(desc: &nestevo_model::ModelDesc, seed: u64) -> nestevo_model::Tensors {
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

/// A whole network (models/terminal.toml, random weights) on the torch engine: the same
/// heads, bit for bit, and the same per-layer counts as on the CPU kernels.
#[test]
fn network_on_torch_equals_kernels() {
    use nestevo_cim::{Backend, CimNetwork, NoiseSpec};
    use nestevo_couple::batch_from_frames;
    use nestevo_eval::HeldOut;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/terminal.toml");
    let desc = nestevo_model::load_model(std::path::Path::new(path)).unwrap();
    let t = random_tensors(&desc, 4);
    let spec = nestevo_arch::preset("isaac").unwrap();
    let [_, h, w] = desc.input;
    let frames = HeldOut::new(nestevo_data::StreamId::D, 2)
        .render(w, h)
        .unwrap();
    let x = batch_from_frames(&frames, &desc.name, desc.input).unwrap();
    let run = |be: &Backend| {
        let mut net = CimNetwork::new_on(&desc, &t, &spec, &NoiseSpec::default(), be).unwrap();
        net.calibrate(x.view()).unwrap();
        net.forward_cim(x.view()).unwrap()
    };
    let (yc, rc) = run(&Backend::cpu());
    let (yt, rt) = run(&torch().backend());
    assert_eq!(yc, yt);
    assert_eq!(rc.len(), rt.len());
    for (a, b) in rc.iter().zip(&rt) {
        assert_eq!((&a.layer, a.stats), (&b.layer, b.stats));
    }
}
