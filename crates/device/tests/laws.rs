//! Each law against its formula, the registry's refusals, and the stream rule.

use nestevo_device::drift::Drift;
use nestevo_device::programming::Programming;
use nestevo_device::stuck::Stuck;
use nestevo_device::table::Table;
use nestevo_device::{build, build_all, program_crossbar, CellLaw, Cells, LawSpec};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

const ROWS: usize = 128;
const COLS: usize = 129;

/// A crossbar's levels (a repeating pattern over 0..=3) and their nominal conductances.
fn crossbar() -> (Vec<u8>, Vec<f64>) {
    let levels: Vec<u8> = (0..ROWS * COLS).map(|i| ((i * 7) % 4) as u8).collect();
    let g = levels.iter().map(|&l| 1.0 + l as f64 * 33.0).collect();
    (levels, g)
}

fn run(laws: &[Arc<dyn CellLaw>], seed: u64, index: u64) -> (Vec<u8>, Vec<f64>) {
    let (levels, mut g) = crossbar();
    let mut cells = Cells {
        g: &mut g,
        levels: &levels,
        rows: ROWS,
        cols: COLS,
        g_min: 1.0,
        g_max: 100.0,
        cell_max: 3,
    };
    program_crossbar(laws, &mut cells, seed, index);
    (levels, g)
}

fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let v = x.iter().map(|a| (a - m) * (a - m)).sum::<f64>() / (n - 1.0);
    (m, v.sqrt())
}

fn law(s: &str) -> Arc<dyn CellLaw> {
    build(&s.parse().unwrap()).unwrap()
}

#[test]
fn programming_noise_has_the_moments_of_eq_19() {
    let mu = 0.01;
    let (levels, g) = run(&[Arc::new(Programming::new(mu).unwrap())], 3, 0);
    // Levels 1 and 2 sit 33 uS from either clip, 33 sigma: the clipping never acts there.
    for l in [1u8, 2] {
        let d: Vec<f64> = g
            .iter()
            .zip(&levels)
            .filter(|(_, &x)| x == l)
            .map(|(g, _)| g - (1.0 + l as f64 * 33.0))
            .collect();
        let (m, sd) = mean_sd(&d);
        let want = mu * 99.0;
        let se = want / (d.len() as f64).sqrt();
        assert!(m.abs() < 4.0 * se, "level {l}: mean {m}");
        assert!(
            (sd / want - 1.0).abs() < 0.05,
            "level {l}: sd {sd}, want {want}"
        );
    }
    // Level 0 and 3 are clipped into [g_min, g_max].
    assert!(g.iter().all(|&x| (1.0..=100.0).contains(&x)));
}

#[test]
fn read_noise_changes_nothing_at_programming() {
    let r = law("read:mu=0.02");
    assert_eq!(r.read_mu(), 0.02);
    assert_eq!(run(&[r], 1, 0).1, crossbar().1);
}

#[test]
fn stuck_cells_are_exact_in_count_and_seeded_in_position() {
    let s = Stuck::new(0.01, 0.005).unwrap();
    let n = ROWS * COLS;
    let (off, on) = s.counts(n);
    assert_eq!((off, on), (165, 83));
    let ideal = crossbar().1;
    let (_, a) = run(&[Arc::new(s)], 5, 0);
    let changed = |g: &[f64], to: f64| {
        g.iter()
            .zip(&ideal)
            .enumerate()
            .filter(|(_, (x, _))| **x == to)
            .map(|(i, _)| i)
            .collect::<Vec<_>>()
    };
    // Every stuck cell holds g_min or g_max; the count of cells at each is the written ones at
    // that level plus the stuck ones that were written elsewhere.
    let written_min = ideal.iter().filter(|&&x| x == 1.0).count();
    let written_max = ideal.iter().filter(|&&x| x == 100.0).count();
    let at_min = changed(&a, 1.0);
    let at_max = changed(&a, 100.0);
    let moved = a.iter().zip(&ideal).filter(|(x, y)| x != y).count();
    assert!(at_min.len() >= written_min && at_max.len() >= written_max);
    assert!(moved <= off + on && moved > (off + on) / 2, "{moved}");
    assert!(a
        .iter()
        .zip(&ideal)
        .all(|(x, y)| x == y || *x == 1.0 || *x == 100.0));
    // Same seed and crossbar: same cells. Another seed or crossbar: other cells.
    assert_eq!(run(&[Arc::new(s)], 5, 0).1, a);
    assert_ne!(run(&[Arc::new(s)], 6, 0).1, a);
    assert_ne!(run(&[Arc::new(s)], 5, 1).1, a);
    // All off: every cell at g_min, and the count is exact.
    let all = Stuck::new(1.0, 0.0).unwrap();
    assert!(run(&[Arc::new(all)], 0, 0).1.iter().all(|&x| x == 1.0));
    assert_eq!(Stuck::new(0.001, 0.0).unwrap().counts(n), (17, 0));
}

#[test]
fn stuck_counts_are_exact_for_every_seed() {
    let s = Stuck::new(0.0, 0.02).unwrap();
    let levels = vec![0u8; ROWS * COLS];
    for seed in 0..5 {
        let mut g = vec![1.0; ROWS * COLS];
        let mut cells = Cells {
            g: &mut g,
            levels: &levels,
            rows: ROWS,
            cols: COLS,
            g_min: 1.0,
            g_max: 100.0,
            cell_max: 3,
        };
        program_crossbar(&[Arc::new(s)], &mut cells, seed, 0);
        assert_eq!(
            g.iter().filter(|&&x| x == 100.0).count(),
            s.counts(ROWS * COLS).1
        );
    }
}

#[test]
fn drift_at_t0_is_no_drift() {
    for c in [false, true] {
        let d = Drift::new(0.0, 20.0, 0.05, 0.02, c).unwrap();
        assert_eq!(run(&[Arc::new(d)], 1, 0).1, crossbar().1);
    }
}

#[test]
fn drift_exponents_have_the_law_s_mean_and_spread() {
    let (nu, sd) = (0.06, 0.01);
    let d = Drift::new(3600.0, 20.0, nu, sd, false).unwrap();
    let ideal = crossbar().1;
    let (_, g) = run(&[Arc::new(d)], 2, 0);
    let lr = ((3600.0f64 + 20.0) / 20.0).ln();
    let nus: Vec<f64> = g
        .iter()
        .zip(&ideal)
        .map(|(a, b)| -(a / b).ln() / lr)
        .collect();
    let (m, s) = mean_sd(&nus);
    assert!(
        (m - nu).abs() < 4.0 * sd / (nus.len() as f64).sqrt(),
        "mean nu {m}"
    );
    assert!((s / sd - 1.0).abs() < 0.05, "sd nu {s}");
    // Every cell decays (nu >= 0).
    assert!(g.iter().zip(&ideal).all(|(a, b)| a <= b));
}

#[test]
fn drift_compensation_restores_the_total_read() {
    let gmin = 1.0;
    let total = |g: &[f64]| g.iter().map(|x| x - gmin).sum::<f64>();
    let ideal = crossbar().1;
    let plain = run(&[law("drift:time_s=3.15e7")], 4, 0).1;
    let comp = run(&[law("drift:time_s=3.15e7,compensate=true")], 4, 0).1;
    assert!(total(&plain) < 0.6 * total(&ideal));
    assert!((total(&comp) / total(&ideal) - 1.0).abs() < 1e-12);
    // The spread between cells stays: compensation is one gain, not a re-programming.
    let err = |g: &[f64]| {
        g.iter()
            .zip(&ideal)
            .map(|(a, b)| (a - b).abs())
            .sum::<f64>()
    };
    assert!(err(&comp) > 0.0 && err(&comp) < err(&plain));
}

#[test]
fn a_table_draws_each_level_s_mean_and_spread() {
    let text = "level,mean_us,sd_us\n0,2,0.5\n1,30,1\n# a comment\n2,70,2\n3,95,1.5\n";
    let t = Table::parse(text, "dev.csv").unwrap();
    t.check(1.0, 100.0, 3).unwrap();
    assert!(t.check(1.0, 100.0, 1).is_err());
    let (levels, g) = run(&[Arc::new(t.clone())], 9, 0);
    for (l, &(mean, sd)) in t.levels.iter().enumerate() {
        let x: Vec<f64> = g
            .iter()
            .zip(&levels)
            .filter(|(_, &v)| v as usize == l)
            .map(|(g, _)| *g)
            .collect();
        let (m, s) = mean_sd(&x);
        assert!(
            (m - mean).abs() < 4.0 * sd / (x.len() as f64).sqrt(),
            "level {l}: {m}"
        );
        assert!((s / sd - 1.0).abs() < 0.08, "level {l}: sd {s}");
    }
}

#[test]
fn a_bad_table_is_refused_naming_file_line_and_field() {
    let e = |t: &str| Table::parse(t, "dev.csv").unwrap_err().to_string();
    assert!(e("lvl,mean,sd\n0,1,1\n").contains("dev.csv:header"));
    assert!(e("level,mean_us,sd_us\n0,1,-1\n").contains("dev.csv:2 sd_us"));
    assert!(e("level,mean_us,sd_us\n0,1,1\n0,2,1\n").contains("each level appears once"));
    assert!(e("level,mean_us,sd_us\n0,1,1\n2,2,1\n").contains("missing"));
    assert!(e("level,mean_us,sd_us\n0,1\n").contains("three fields"));
    assert!(e("").contains("header"));
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.csv");
    let msg = build(&format!("table:file={}", missing.display()).parse().unwrap())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("cannot be read"), "{msg}");
    let ok = dir.path().join("dev.csv");
    std::fs::write(&ok, "level,mean_us,sd_us\n0,1,0\n1,34,0\n2,67,0\n3,100,0\n").unwrap();
    let t = build(&format!("table:file={}", ok.display()).parse().unwrap()).unwrap();
    // Zero spread at the nominal levels: the ideal crossbar.
    assert_eq!(run(&[t], 0, 0).1, crossbar().1);
}

#[test]
fn the_registry_refuses_names_keys_and_values_clearly() {
    let err = |s: &str| build(&s.parse().unwrap()).unwrap_err().to_string();
    let m = err("pcm");
    assert!(
        m.contains("\"pcm\"") && m.contains("programming, read, stuck, drift, table"),
        "{m}"
    );
    let m = err("stuck:off=0.1");
    assert!(
        m.contains("`off`") && m.contains("off_rate, on_rate"),
        "{m}"
    );
    let m = err("stuck:off_rate=1.5");
    assert!(m.contains("`off_rate` = 1.5") && m.contains("<= 1"), "{m}");
    let m = err("stuck:off_rate=0.6,on_rate=0.6");
    assert!(m.contains("at most 1"), "{m}");
    let m = err("drift");
    assert!(m.contains("`time_s`") && m.contains("required"), "{m}");
    let m = err("drift:time_s=1,compensate=yes");
    assert!(m.contains("true or false"), "{m}");
    let m = build_all(&[
        "read:mu=0.1".parse().unwrap(),
        "programming:mu=-1".parse().unwrap(),
    ])
    .unwrap_err();
    assert_eq!(m.field, "1.mu");
    assert!("".parse::<LawSpec>().is_err());
    assert!("stuck:off_rate".parse::<LawSpec>().is_err());
    let m = "drift:time_s=10,time_s=20"
        .parse::<LawSpec>()
        .unwrap_err()
        .to_string();
    assert!(m.contains("`time_s` is given twice"), "{m}");
}

#[test]
fn laws_round_trip_through_text_and_toml() {
    let s: LawSpec = "drift:time_s=3600,compensate=true,nu=0.04".parse().unwrap();
    assert_eq!(s.to_string().parse::<LawSpec>().unwrap(), s);
    #[derive(serde::Deserialize)]
    struct Doc {
        laws: Vec<LawSpec>,
    }
    let d: Doc =
        toml::from_str("[[laws]]\nname = \"drift\"\ntime_s = 3600\ncompensate = true\nnu = 0.04\n")
            .unwrap();
    assert_eq!(d.laws[0], s);
    build(&d.laws[0]).unwrap();
}

#[test]
fn a_law_written_outside_the_crate_runs_through_the_same_interface() {
    // A newcomer's law: every cell at half its conductance.
    #[derive(Debug)]
    struct Half;
    impl CellLaw for Half {
        fn name(&self) -> &'static str {
            "half"
        }
        fn program(&self, cells: &mut Cells<'_>, _rng: &mut ChaCha8Rng) {
            cells.g.iter_mut().for_each(|g| *g *= 0.5);
        }
    }
    let (_, g) = run(&[Arc::new(Half)], 0, 0);
    assert!(g.iter().zip(crossbar().1).all(|(a, b)| *a == b * 0.5));
}

#[test]
fn a_law_added_to_a_list_leaves_the_draws_before_it_unchanged() {
    let p = law("programming:mu=0.02");
    let alone = run(std::slice::from_ref(&p), 7, 3).1;
    // A read law (no effect at programming) after it: the same conductances.
    assert_eq!(run(&[p.clone(), law("read:mu=0.1")], 7, 3).1, alone);
    // Stuck cells after it: every cell that is not stuck keeps its programmed value.
    let both = run(&[p, law("stuck:off_rate=0.01")], 7, 3).1;
    let same = both.iter().zip(&alone).filter(|(a, b)| a == b).count();
    assert!(same >= alone.len() - Stuck::new(0.01, 0.0).unwrap().counts(alone.len()).0);
}

#[test]
fn weight_level_noise_keeps_the_range() {
    let mut w: Vec<f32> = (0..10_000).map(|i| (i as f32 / 10_000.0) - 0.5).collect();
    let clean = w.clone();
    nestevo_device::weight::perturb_f32(&mut w, 0.02, 1);
    assert!(w.iter().all(|x| (-0.5..=0.4999).contains(x)));
    let d: Vec<f64> = w
        .iter()
        .zip(&clean)
        .skip(1000)
        .take(8000)
        .map(|(a, b)| (a - b) as f64)
        .collect();
    let (m, s) = mean_sd(&d);
    assert!(m.abs() < 0.002 && (s / 0.02 - 1.0).abs() < 0.05, "{m} {s}");
}
