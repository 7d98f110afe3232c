//! Device laws on the kernels' crossbars: the programming law draws what the kernels always
//! drew, laws that change nothing leave the analogue path's outputs alone, and the others move
//! them reproducibly from the seed.

mod common;

use nestevo_device::{build, CellLaw};
use nestevo_kernels::{InputMode, Programmed, XbarConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::sync::Arc;

fn data(k: usize, n: usize, b: usize) -> (Vec<i64>, Vec<i64>) {
    let mut r = ChaCha8Rng::seed_from_u64(1);
    let w = (0..k * n).map(|_| r.gen_range(-3000..3000)).collect();
    let x = (0..b * k).map(|_| r.gen_range(0..40000)).collect();
    (w, x)
}

fn law(s: &str) -> Arc<dyn CellLaw> {
    build(&s.parse().unwrap()).unwrap()
}

/// The Eq. 18-20 cell draw as the kernels wrote it before laws were plug-ins: per crossbar a
/// ChaCha8 stream of its index, row by row, the unit column last, clipped.
#[test]
fn the_programming_law_draws_what_the_kernels_always_drew() {
    let c = XbarConfig::isaac();
    let (k, n) = (300, 40);
    let (w, _) = data(k, n, 1);
    let (mu, seed) = (0.02, 11);
    let p = Programmed::new(&c, &w, k, n)
        .unwrap()
        .program_conductances(mu, seed)
        .unwrap();
    let step = (c.g_max - c.g_min) / 3.0;
    let normal = Normal::new(0.0, mu * (c.g_max - c.g_min)).unwrap();
    for i in 0..p.crossbars() {
        let (levels, cols) = p.levels(i);
        let (cond, cw) = p.conductances(i);
        assert_eq!(cw, cols + 1);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(i as u64);
        for r in 0..levels.len() / cols {
            for col in 0..cw {
                let l = if col < cols {
                    levels[r * cols + col]
                } else {
                    1
                } as f64;
                let g = (c.g_min + l * step + normal.sample(&mut rng)).clamp(c.g_min, c.g_max);
                assert_eq!(
                    cond[r * cw + col],
                    g as f32,
                    "crossbar {i} row {r} col {col}"
                );
            }
        }
    }
    // The same through the law list.
    let q = Programmed::new(&c, &w, k, n)
        .unwrap()
        .program_cells(&[law("programming:mu=0.02")], seed)
        .unwrap();
    for i in 0..p.crossbars() {
        assert_eq!(p.conductances(i), q.conductances(i));
    }
}

#[test]
fn laws_that_change_nothing_leave_the_outputs_alone() {
    let c = XbarConfig::isaac();
    let (k, n, b) = (256, 32, 8);
    let (w, x) = data(k, n, b);
    let run = |laws: &[Arc<dyn CellLaw>]| {
        Programmed::new(&c, &w, k, n)
            .unwrap()
            .program_cells(laws, 5)
            .unwrap()
            .run(&x, b, InputMode::Unsigned, None)
            .unwrap()
    };
    let nominal = run(&[]);
    let exact = Programmed::new(&c, &w, k, n)
        .unwrap()
        .run(&x, b, InputMode::Unsigned, None)
        .unwrap();
    assert_eq!(nominal, exact);
    for l in [
        "drift:time_s=0",
        "drift:time_s=0,compensate=true",
        "stuck:off_rate=0",
        "read:mu=0.05",
        "programming:mu=0",
    ] {
        assert_eq!(run(&[law(l)]), nominal, "{l}");
    }
}

#[test]
fn stuck_cells_and_drift_move_the_outputs_reproducibly() {
    let c = XbarConfig::isaac();
    let (k, n, b) = (256, 32, 8);
    let (w, x) = data(k, n, b);
    let run = |l: &str, seed: u64| {
        Programmed::new(&c, &w, k, n)
            .unwrap()
            .program_cells(&[law(l)], seed)
            .unwrap()
            .run(&x, b, InputMode::Unsigned, None)
            .unwrap()
            .0
    };
    let exact = Programmed::new(&c, &w, k, n)
        .unwrap()
        .run(&x, b, InputMode::Unsigned, None)
        .unwrap()
        .0;
    let err = |y: &[i64]| {
        y.iter()
            .zip(&exact)
            .map(|(a, b)| (a - b).unsigned_abs() as f64)
            .sum::<f64>()
            / y.len() as f64
    };
    for l in [
        "stuck:off_rate=0.01",
        "stuck:on_rate=0.01",
        "drift:time_s=86400",
    ] {
        let a = run(l, 3);
        assert_ne!(a, exact, "{l}");
        assert_eq!(run(l, 3), a, "{l}");
        assert_ne!(run(l, 4), a, "{l}");
    }
    // Drift grows with time; compensation takes back most of it.
    let day = err(&run("drift:time_s=86400", 3));
    let decade = err(&run("drift:time_s=3.15e8", 3));
    let comp = err(&run("drift:time_s=3.15e8,compensate=true", 3));
    assert!(day < decade, "{day} {decade}");
    assert!(comp < 0.5 * decade, "{comp} {decade}");
}

#[test]
fn a_table_that_does_not_fit_the_cells_is_refused() {
    let dir = std::env::temp_dir().join(format!("nestevo-table-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("two-levels.csv");
    std::fs::write(&f, "level,mean_us,sd_us\n0,1,0\n1,100,0\n").unwrap();
    let t = build(&format!("table:file={}", f.display()).parse().unwrap()).unwrap();
    let c = XbarConfig::isaac();
    let (w, _) = data(128, 8, 1);
    let e = Programmed::new(&c, &w, 128, 8)
        .unwrap()
        .program_cells(&[t], 0)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("levels 0..=3"), "{e}");
    std::fs::remove_dir_all(dir).ok();
}
