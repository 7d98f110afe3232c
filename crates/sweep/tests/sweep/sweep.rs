//! Design sweeps: grids parse strictly, every point is validated (invalid ones recorded with
//! their reason), the same grid writes the same bytes, shards merge into exactly the unsharded
//! CSV, a sweep cut short resumes from its last finished point, and the Pareto front keeps
//! exactly the non-dominated points.

use nestevo_arch::preset;
use nestevo_model::load_model;
use nestevo_sweep::{merge, run_sweep, Grid, Shard, SweepConfig, SweepError};
use std::path::{Path, PathBuf};

fn model(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("models")
        .join(name)
}

const GRID: &[&str] = &["crossbar.rows=64,128,256", "dac.bits=1..4", "adc.bits=6,8"];

fn config(shard: Shard) -> SweepConfig {
    SweepConfig {
        arch: preset("isaac").unwrap(),
        arch_source: "isaac".into(),
        grid: Grid::parse(&GRID.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap(),
        models: vec![
            load_model(&model("resnet18.toml")).unwrap(),
            load_model(&model("terminal.toml")).unwrap(),
        ],
        shard,
        chunk: 5,
        progress: false,
        accuracy: None,
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// Ranges are inclusive, lists keep their order, the last axis varies fastest; bad axes are
/// refused naming the axis.
#[test]
fn grid_parses_strictly() {
    let g = Grid::parse(&["adc.bits=4..6".into(), "crossbar.rows=64,128".into()]).unwrap();
    assert_eq!(g.len(), 6);
    assert_eq!(g.sets(0), ["adc.bits=4", "crossbar.rows=64"]);
    assert_eq!(g.sets(1), ["adc.bits=4", "crossbar.rows=128"]);
    assert_eq!(g.sets(5), ["adc.bits=6", "crossbar.rows=128"]);
    for (bad, says) in [
        ("adc.bits=6..4", "empty"),
        ("adc.bits=a..4", "integers"),
        ("bits=4", "section.key"),
        ("adc.bits=4,,5", "empty value"),
        ("adc.bits", "expected key="),
    ] {
        let e = Grid::parse(&[bad.into()]).unwrap_err().to_string();
        assert!(e.contains(bad) && e.contains(says), "{bad}: {e}");
    }
    let e = Grid::parse(&["adc.bits=4".into(), "adc.bits=5".into()]).unwrap_err();
    assert!(e.to_string().contains("swept twice"), "{e}");
    assert!(Grid::parse(&[]).is_err());
    for bad in ["2/2", "1", "a/3", "0/0"] {
        assert!(
            matches!(Shard::parse(bad), Err(SweepError::Shard { .. })),
            "{bad}"
        );
    }
    let s = Shard::parse("1/3").unwrap();
    assert_eq!(s.points(8).collect::<Vec<_>>(), [1, 4, 7]);
    assert_eq!(s.len(8), 3);
}

/// Every point of the grid appears, once per model, in point order; invalid combinations
/// (dac.bits = 3 does not divide 16 input bits) are rows with the arch's reason.
#[test]
fn every_point_is_recorded_with_invalid_reasons() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("r.csv");
    let o = run_sweep(&config(Shard::WHOLE), &out).unwrap();
    assert_eq!((o.points, o.rows), (24, 48));
    let text = read(&out);
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(lines.len(), 48);
    for (i, l) in lines.iter().enumerate() {
        assert!(l.starts_with(&format!("{},", i / 2)), "{l}");
    }
    let invalid: Vec<&&str> = lines.iter().filter(|l| l.contains(",invalid,")).collect();
    // dac.bits = 3 is invalid at every rows and adc.bits value: 3 * 2 points, 2 models.
    assert_eq!(invalid.len(), 12);
    assert!(invalid
        .iter()
        .all(|l| l.contains(",3,") && l.contains("must divide data.input_bits")));
    assert_eq!(o.invalid_rows, 12);
    assert!(o.front >= 1 && o.front < 36);
    assert!(o.plot.is_some(), "{:?}", o.plot_error);
}

/// The same grid twice gives the same bytes (CSV and Pareto CSV).
#[test]
fn same_grid_same_csv() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a.csv"), d.path().join("b/b.csv"));
    run_sweep(&config(Shard::WHOLE), &a).unwrap();
    let mut c = config(Shard::WHOLE);
    c.chunk = 7;
    run_sweep(&c, &b).unwrap();
    assert_eq!(read(&a), read(&b));
    assert_eq!(
        read(&d.path().join("a.pareto.csv")),
        read(&d.path().join("b/b.pareto.csv"))
    );
}

/// Shards 0..3 merged (given in any order) are byte for byte the unsharded CSV; a missing
/// or unfinished shard is refused.
#[test]
fn merged_shards_equal_the_unsharded_run() {
    let d = tempfile::tempdir().unwrap();
    let whole = d.path().join("whole.csv");
    run_sweep(&config(Shard::WHOLE), &whole).unwrap();
    let shards: Vec<PathBuf> = (0..3)
        .map(|i| {
            let p = d.path().join(format!("s{i}.csv"));
            run_sweep(&config(Shard { index: i, count: 3 }), &p).unwrap();
            p
        })
        .collect();
    let merged = d.path().join("merged.csv");
    let o = merge(
        &[shards[2].clone(), shards[0].clone(), shards[1].clone()],
        &merged,
    )
    .unwrap();
    assert_eq!(o.rows, 48);
    assert_eq!(read(&merged), read(&whole));
    assert_eq!(
        read(&d.path().join("merged.pareto.csv")),
        read(&d.path().join("whole.pareto.csv"))
    );
    let e = merge(&shards[..2], &d.path().join("m2.csv")).unwrap_err();
    assert!(e.to_string().contains("shard 2/3 is missing"), "{e}");
    // An unfinished shard: cut its last row off.
    let t = read(&shards[1]);
    let cut = t[..t.len() - 1].rfind('\n').unwrap() + 1;
    std::fs::write(&shards[1], &t[..cut]).unwrap();
    let e = merge(&shards, &d.path().join("m3.csv")).unwrap_err();
    assert!(e.to_string().contains("finish it first"), "{e}");
}

/// A sweep cut anywhere (mid-row, mid-point) resumes from its last finished point and ends
/// with the bytes of an uninterrupted run.
#[test]
fn a_cut_sweep_resumes_from_its_last_finished_point() {
    let d = tempfile::tempdir().unwrap();
    let whole = d.path().join("whole.csv");
    run_sweep(&config(Shard::WHOLE), &whole).unwrap();
    let full = read(&whole);
    let header = full.find('\n').unwrap() + 1;
    let out = d.path().join("cut.csv");
    for cut in [header, header + 10, full.len() / 2, full.len() - 3] {
        run_sweep(&config(Shard::WHOLE), &out).unwrap();
        std::fs::write(&out, &full[..cut]).unwrap();
        // Whole points (2 rows each) before the cut.
        let rows = full[header..cut].matches('\n').count() as u64;
        let o = run_sweep(&config(Shard::WHOLE), &out).unwrap();
        assert_eq!(o.resumed, rows / 2, "cut at byte {cut}");
        assert_eq!(o.evaluated, 24 - rows / 2);
        assert_eq!(read(&out), full, "cut at byte {cut}");
    }
    // A finished sweep run again evaluates nothing and changes nothing.
    let o = run_sweep(&config(Shard::WHOLE), &out).unwrap();
    assert_eq!((o.resumed, o.evaluated), (24, 0));
    assert_eq!(read(&out), full);
}

/// An existing CSV of another sweep is never appended to.
#[test]
fn a_different_sweep_is_not_resumed_into_an_existing_file() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("r.csv");
    run_sweep(&config(Shard::WHOLE), &out).unwrap();
    let mut other = config(Shard::WHOLE);
    other.grid = Grid::parse(&["adc.bits=5..7".into()]).unwrap();
    let e = run_sweep(&other, &out).unwrap_err().to_string();
    assert!(e.contains("different sweep"), "{e}");
}

/// The front keeps the points nothing beats on every objective, per model, ties included.
#[test]
fn pareto_front_keeps_exactly_the_non_dominated_points() {
    use nestevo_sweep::perf::Metrics;
    use nestevo_sweep::{pareto_front, Row};
    let row = |point: u64, model: &str, e: f64, l: f64, a: f64| Row {
        point,
        values: vec![],
        model: model.into(),
        status: "ok".into(),
        metrics: Some(Metrics {
            chips: 1,
            crossbars: 1,
            energy_per_frame_uj: e,
            latency_us: l,
            period_us: l,
            area_mm2: a,
            average_power_w: 1.0,
        }),
        score: None,
        reason: String::new(),
    };
    let mut invalid = row(6, "a", 0.1, 0.1, 0.1);
    invalid.status = "invalid".into();
    invalid.metrics = None;
    let rows = vec![
        row(0, "a", 1.0, 5.0, 1.0), // front: lowest energy
        row(1, "a", 2.0, 2.0, 1.0), // front
        row(2, "a", 2.0, 3.0, 1.0), // dominated by 1
        row(3, "a", 5.0, 1.0, 1.0), // front: lowest latency
        row(4, "a", 2.0, 2.0, 1.0), // a tie with 1: kept
        row(5, "a", 3.0, 3.0, 0.5), // front: lowest area
        invalid,
        row(7, "b", 9.0, 9.0, 9.0), // the only point of model b
    ];
    assert_eq!(pareto_front(&rows, false), [0, 1, 3, 4, 5, 7]);
    // A score that is better higher: the point with the best score joins the front.
    let mut rows = rows;
    rows[2].score = Some(1.0);
    assert_eq!(pareto_front(&rows, true), [0, 1, 2, 3, 4, 5, 7]);
    assert_eq!(pareto_front(&rows, false), [0, 1, 3, 4, 5, 7]);
}

/// A key the description does not have, or a value not of its type, is refused before any
/// point runs, naming the axis; nothing is written.
#[test]
fn an_axis_the_description_cannot_take_is_refused_before_running() {
    let d = tempfile::tempdir().unwrap();
    for (axis, says) in [
        ("adc.bitz=6..8", "no such key"),
        ("adc.bits=a,b", "expected a"),
    ] {
        let mut c = config(Shard::WHOLE);
        c.grid = Grid::parse(&[axis.into()]).unwrap();
        let out = d.path().join("r.csv");
        let e = run_sweep(&c, &out).unwrap_err().to_string();
        assert!(
            e.contains(axis.split('=').next().unwrap()) && e.contains(says),
            "{axis}: {e}"
        );
        assert!(!out.exists(), "{axis}: nothing written");
    }
}

/// A damaged row in the middle of a results file is refused naming its line, where cutting the
/// file there would lose every point after it; a merge checks each row's values against the
/// grid.
#[test]
fn a_damaged_row_is_refused_not_cut_away() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("r.csv");
    run_sweep(&config(Shard::WHOLE), &out).unwrap();
    let full = read(&out);
    let lines: Vec<&str> = full.split_inclusive('\n').collect();
    let mut bad = lines.clone();
    let damaged = lines[3].replacen(",resnet18,", ",garbage,", 1);
    bad[3] = &damaged;
    let bad = bad.concat();
    std::fs::write(&out, &bad).unwrap();
    let e = run_sweep(&config(Shard::WHOLE), &out)
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 4") && e.contains("garbage"), "{e}");
    assert_eq!(read(&out), bad, "the file is left as it was");

    // A shard whose row holds another value than the grid's at that point.
    let shards: Vec<PathBuf> = (0..2)
        .map(|i| {
            let p = d.path().join(format!("s{i}.csv"));
            run_sweep(&config(Shard { index: i, count: 2 }), &p).unwrap();
            p
        })
        .collect();
    let t = read(&shards[1]);
    // Point 1 is crossbar.rows=64, dac.bits=1, adc.bits=8: make its adc.bits 7.
    let tampered = t.replacen("1,64,1,8,", "1,64,1,7,", 2);
    assert_ne!(tampered, t);
    std::fs::write(&shards[1], tampered).unwrap();
    let e = merge(&shards, &d.path().join("m.csv"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected point 1 (64, 1, 8)"), "{e}");
}
