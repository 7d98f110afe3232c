//! Conductance noise (SPEC 3.3): the spread is mu * (max - min), values stay clipped to the
//! range, and every draw is reproducible from its seed (and independent of the thread count).

use ndarray::Array2;
use nestevo_arch::preset;
use nestevo_cim::noise::{perturb_f32, perturb_i64};
use nestevo_cim::{CimMatrix, NoiseMode, NoiseSpec};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn mats(k: usize, n: usize, b: usize, seed: u64) -> (Array2<i64>, Array2<i64>) {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    (
        Array2::from_shape_fn((k, n), |_| r.gen_range(-32768..32768)),
        Array2::from_shape_fn((b, k), |_| r.gen_range(0..65536)),
    )
}

fn noise(mode: NoiseMode, mu: f64, seed: u64) -> NoiseSpec {
    NoiseSpec {
        mode,
        mu,
        read_mu: 0.0,
        seed,
    }
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64;
    (m, var.sqrt())
}

#[test]
fn cell_noise_spread_and_clipping() {
    let spec = preset("isaac").unwrap();
    let (gmin, gmax) = (spec.crossbar.g_min_us, spec.crossbar.g_max_us);
    let step = (gmax - gmin) / spec.cell_max() as f64;
    let (w, _) = mats(128, 16, 1, 1);
    let mu = 0.02;
    let m = CimMatrix::program(&spec, w.view(), &noise(NoiseMode::Cell, mu, 7)).unwrap();
    let p = m.programmed().unwrap();
    let (lv, nc) = p.levels(0);
    let (g, cw) = p.conductances(0);
    // Levels 1 and 2 sit > 6 sigma from the clipping bounds: their residuals are plain normals.
    let mut res = Vec::new();
    for r in 0..128 {
        for c in 0..nc {
            let l = lv[r * nc + c] as f64;
            if l == 1.0 || l == 2.0 {
                res.push(g[r * cw + c] as f64 - (gmin + l * step));
            }
        }
    }
    assert!(res.len() > 3000);
    let (mean, sd) = mean_sd(&res);
    let sigma = mu * (gmax - gmin);
    let n = res.len() as f64;
    assert!(mean.abs() < 4.0 * sigma / n.sqrt(), "mean {mean}");
    // The sample sd of n normals is within a few percent of sigma for n in the thousands.
    assert!(
        (sd / sigma - 1.0).abs() < 4.0 / (2.0 * n).sqrt(),
        "sd {sd} vs sigma {sigma}"
    );
    // Strong noise: every conductance stays in [g_min, g_max], and many sit on the bounds.
    let m = CimMatrix::program(&spec, w.view(), &noise(NoiseMode::Cell, 0.3, 7)).unwrap();
    let (g, _) = m.programmed().unwrap().conductances(0);
    assert!(g.iter().all(|&x| (gmin as f32..=gmax as f32).contains(&x)));
    assert!(
        g.iter()
            .filter(|&&x| x == gmin as f32 || x == gmax as f32)
            .count()
            > 1000
    );
}

#[test]
fn weight_noise_spread_and_clipping() {
    // Range [-1, 1] fixed by two end points; the zeros in between spread with sigma = mu * 2.
    let mut w = vec![0f32; 20002];
    w[0] = -1.0;
    w[1] = 1.0;
    let mu = 0.05;
    perturb_f32(&mut w, mu, 3);
    assert!(w.iter().all(|x| (-1.0..=1.0).contains(x)));
    let v: Vec<f64> = w[2..].iter().map(|&x| x as f64).collect();
    let (mean, sd) = mean_sd(&v);
    let sigma = mu * 2.0;
    assert!(
        mean.abs() < 4.0 * sigma / (v.len() as f64).sqrt(),
        "mean {mean}"
    );
    assert!((sd / sigma - 1.0).abs() < 0.03, "sd {sd} vs {sigma}");
    // Integers: rounded, clipped to the matrix's own [min, max].
    let mut wi: Vec<i64> = (0..10000).map(|i| (i % 201) - 100).collect();
    perturb_i64(&mut wi, 0.2, 4);
    assert!(wi.iter().all(|x| (-100..=100).contains(x)));
    assert!(wi.iter().filter(|&&x| x == 100 || x == -100).count() > 500);
}

#[test]
fn seeds_reproduce_and_differ() {
    let spec = preset("isaac").unwrap();
    let (w, x) = mats(300, 40, 3, 2);
    let exact = x.dot(&w);
    for mode in [NoiseMode::Weight, NoiseMode::Cell] {
        let run = |seed: u64| {
            CimMatrix::program(&spec, w.view(), &noise(mode, 0.01, seed))
                .unwrap()
                .mvm(x.view(), false)
                .unwrap()
                .0
        };
        let (a, b, c) = (run(11), run(11), run(12));
        assert_eq!(a, b, "{mode:?}: same seed, same output");
        assert_ne!(a, c, "{mode:?}: different seeds differ");
        assert_ne!(a, exact, "{mode:?}: noise changes the result");
    }
    // Cell mode with mu = 0 runs the analogue path and is exact.
    let m = CimMatrix::program(&spec, w.view(), &noise(NoiseMode::Cell, 0.0, 1)).unwrap();
    assert_eq!(m.mvm(x.view(), false).unwrap().0, exact);
}

#[test]
fn read_noise_is_seeded_and_thread_count_free() {
    let spec = preset("isaac").unwrap();
    let (w, x) = mats(200, 20, 4, 5);
    let spec_n = NoiseSpec {
        mode: NoiseMode::Cell,
        mu: 0.01,
        read_mu: 0.01,
        seed: 9,
    };
    let m = CimMatrix::program(&spec, w.view(), &spec_n).unwrap();
    let (a, _) = m.mvm(x.view(), false).unwrap();
    let (b, _) = m.mvm(x.view(), false).unwrap();
    assert_eq!(a, b);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let c = one.install(|| {
        CimMatrix::program(&spec, w.view(), &spec_n)
            .unwrap()
            .mvm(x.view(), false)
            .unwrap()
            .0
    });
    assert_eq!(a, c);
    let mut other = spec_n;
    other.seed = 10;
    let d = CimMatrix::program(&spec, w.view(), &other)
        .unwrap()
        .mvm(x.view(), false)
        .unwrap()
        .0;
    assert_ne!(a, d);
}

#[test]
fn bad_noise_is_refused() {
    let spec = preset("isaac").unwrap();
    let (w, _) = mats(10, 2, 1, 1);
    let e = CimMatrix::program(&spec, w.view(), &noise(NoiseMode::Cell, -0.1, 1))
        .err()
        .unwrap();
    assert!(e.to_string().contains("mu"), "{e}");
}

#[test]
fn analogue_path_without_noise_equals_exact_path() {
    // Zero cell noise runs the conductance path; it must reproduce the bit-plane path, saturated
    // codes and counts included.
    let isaac = preset("isaac").unwrap();
    let noflip =
        nestevo_arch::apply_overrides(&isaac, &["encoding.flip=false".into()], "t").unwrap();
    let mut r = ChaCha8Rng::seed_from_u64(8);
    let w_big = Array2::from_shape_fn((300, 24), |_| r.gen_range(16384i64..32768));
    let x_big = Array2::from_shape_fn((3, 300), |_| r.gen_range(32768i64..65536));
    let x_signed = Array2::from_shape_fn((3, 300), |_| r.gen_range(-32768i64..32768));
    for (spec, w, x, signed) in [
        (&isaac, &w_big, &x_signed, true),
        (&noflip, &w_big, &x_big, false),
        (&noflip, &w_big, &x_signed, true),
    ] {
        let exact = CimMatrix::program(spec, w.view(), &NoiseSpec::default()).unwrap();
        let analog = CimMatrix::program(spec, w.view(), &noise(NoiseMode::Cell, 0.0, 1)).unwrap();
        let (ye, se) = exact.mvm(x.view(), signed).unwrap();
        let (ya, sa) = analog.mvm(x.view(), signed).unwrap();
        assert_eq!(ye, ya);
        assert_eq!(se, sa);
    }
    let (_, s) = CimMatrix::program(&noflip, w_big.view(), &NoiseSpec::default())
        .unwrap()
        .mvm(x_big.view(), false)
        .unwrap();
    assert!(s.adc_saturations > 0, "the flip-off case must saturate");
}

fn with_laws(laws: &[&str]) -> nestevo_arch::ArchSpec {
    let mut spec = preset("isaac").unwrap();
    spec.device.laws = laws.iter().map(|l| l.parse().unwrap()).collect();
    spec
}

/// The description's laws and the noise flags are two ways to say the same thing.
#[test]
fn device_laws_in_the_description_equal_the_noise_flags() {
    let (w, x) = mats(300, 24, 6, 3);
    let run = |spec: &nestevo_arch::ArchSpec, n: &NoiseSpec| {
        CimMatrix::program(spec, w.view(), n)
            .unwrap()
            .mvm(x.view(), false)
            .unwrap()
    };
    let plain = preset("isaac").unwrap();
    // Cell noise by flag and the programming law in the description: the same draws.
    let by_flag = run(&plain, &noise(NoiseMode::Cell, 0.02, 9));
    let by_law = run(
        &with_laws(&["programming:mu=0.02"]),
        &noise(NoiseMode::None, 0.0, 9),
    );
    assert_eq!(by_flag.0, by_law.0);
    // Read noise by flag and the read law.
    let flag = NoiseSpec {
        read_mu: 0.01,
        ..noise(NoiseMode::None, 0.0, 4)
    };
    let a = run(&plain, &flag);
    let b = run(
        &with_laws(&["read:mu=0.01"]),
        &noise(NoiseMode::None, 0.0, 4),
    );
    assert_eq!(a.0, b.0);
    // Cell noise by flag, then the description's stuck cells: a different, reproducible run.
    let stuck = with_laws(&["stuck:off_rate=0.02"]);
    let s1 = run(&stuck, &noise(NoiseMode::Cell, 0.02, 9));
    assert_ne!(s1.0, by_flag.0);
    assert_eq!(run(&stuck, &noise(NoiseMode::Cell, 0.02, 9)).0, s1.0);
    // Laws without noise flags still take the analogue path; a law that changes nothing then
    // gives the exact product.
    let exact = run(&plain, &noise(NoiseMode::None, 0.0, 0));
    let idle = run(
        &with_laws(&["drift:time_s=0"]),
        &noise(NoiseMode::None, 0.0, 0),
    );
    assert_eq!(idle.0, exact.0);
    let m = CimMatrix::program(
        &with_laws(&["drift:time_s=0"]),
        w.view(),
        &noise(NoiseMode::None, 0.0, 0),
    )
    .unwrap();
    assert!(!m.programmed().unwrap().conductances(0).0.is_empty());
}
