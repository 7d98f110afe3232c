//! Fig. 11 over replicates: the tables read finished runs back (no training), pair each value
//! with the first one on the same replicate, and leave out a replicate that is not finished.

use nestevo_eval::paired::t975;
use nestevo_evolve::config::{apply_override, preset};
use nestevo_evolve::method::Method;
use nestevo_experiments::replicates::Replicates;
use nestevo_experiments::sweep_replicates::sweep_replicates;
use serde_json::Value;
use std::path::Path;

/// A finished run as `evolve run` leaves it: its experiment, summary and (here empty) windows.
fn finished(dir: &Path, exp: &nestevo_evolve::config::Experiment, final_map: f64, evolutions: u64) {
    std::fs::create_dir_all(dir).unwrap();
    let template = "docs/results/evolution/table4-paper/rep0/nestevo/summary.json";
    let mut s: Value = serde_json::from_str(&std::fs::read_to_string(template).unwrap()).unwrap();
    s["experiment"] = Value::from(exp.name.clone());
    s["final_terminal_map50"] = Value::from(final_map);
    s["start_terminal_map50"] = Value::from(0.2);
    s["mean_map50_after"] = Value::from(final_map - 0.1);
    s["mean_lcp"] = Value::from(final_map - 0.15);
    s["global_evolutions"] = Value::from(evolutions);
    std::fs::write(dir.join("summary.json"), s.to_string()).unwrap();
    std::fs::write(dir.join("windows.json"), "[]").unwrap();
    std::fs::write(dir.join("experiment.toml"), exp.to_toml()).unwrap();
}

#[test]
fn sweep_over_replicates_pairs_values_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let exp = preset("smoke").unwrap();
    let (key, values) = ("drift.gamma", vec!["10".to_string(), "40".to_string()]);
    // Replicate r: gamma 10 ends at base[r], gamma 40 at base[r] + gain[r]. The replicates
    // spread widely (0.3 to 0.5); the pairs do not.
    let (base, gain) = ([0.3, 0.5, 0.4], [0.05, 0.06, 0.04]);
    for r in 0..4 {
        let e = exp.replicate(r, false);
        for (v, evolutions) in [("10", 2), ("40", 0)] {
            if r == 3 && v == "40" {
                continue; // replicate 3 is not finished
            }
            let ev = apply_override(&e, &format!("{key}={v}"), "test").unwrap();
            let add = if v == "40" { gain[r.min(2)] } else { 0.0 };
            let b = base[r.min(2)];
            finished(
                &out.join(format!("rep{r}/{key}={v}")),
                &ev,
                b + add,
                evolutions,
            );
        }
    }
    // This shard holds replicate 0 only: it is read back, not rerun.
    let reps = Replicates {
        count: 4,
        tuning: false,
        shard: Some((0, 4)),
    };
    let report = sweep_replicates(
        &exp,
        Method::Nestevo,
        key,
        &values,
        &reps,
        out,
        tch::Device::Cpu,
        false,
    )
    .unwrap();
    assert_eq!(report.replicates, vec![0, 1, 2]);
    assert_eq!(report.missing, vec![3]);
    assert_eq!(report.values[0].global_evolutions, 2.0);
    assert_eq!(report.values[1].global_evolutions, 0.0);
    assert!((report.values[0].final_terminal.mean - 0.4).abs() < 1e-12);
    let d = report
        .paired
        .iter()
        .find(|p| p.what == "drift.gamma=40 - drift.gamma=10 (final terminal mean)")
        .unwrap();
    // Differences 0.05, 0.06, 0.04: mean 0.05, s = 0.01, half-width t(0.975, 2) 0.01 / sqrt 3.
    let half = t975(2) * 0.01 / 3f64.sqrt();
    assert!((d.difference.mean - 0.05).abs() < 1e-12);
    assert!((d.difference.hi - d.difference.mean - half).abs() < 1e-9);
    assert!((t975(2) - 4.303).abs() < 1e-12);
    assert_eq!(d.verdict, "above");
    assert_eq!(report.values[1].versus_first[0], d.difference);
    assert_eq!(report.values[0].versus_first[0].mean, 0.0);
    // The means alone could not tell (0.4 against 0.45 with replicates 0.2 apart).
    let (a, b) = (
        &report.values[0].final_terminal,
        &report.values[1].final_terminal,
    );
    assert!(a.hi > b.lo);
    // Global after - before only for the value that co-evolved.
    assert!(report
        .paired
        .iter()
        .any(|p| p.what == "drift.gamma=10: global after - before (pooled)"));
    assert!(!report
        .paired
        .iter()
        .any(|p| p.what == "drift.gamma=40: global after - before (pooled)"));
    for f in [
        "sweep_replicates.md",
        "sweep_replicates.csv",
        "sweep_replicates.json",
        "sweep_replicates.png",
        "sweep_paired.png",
        "rep0/sweep.md",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    assert!(
        !out.join("rep1/sweep.md").exists(),
        "another shard's replicate was run"
    );
    let md = std::fs::read_to_string(out.join("sweep_replicates.md")).unwrap();
    assert!(md.contains("not finished: [3]"), "{md}");
}

/// Table 4 over replicates read back: the first method's global model after is paired with
/// every other method's that co-evolved, by hand; a method that never co-evolved gets no row.
#[test]
fn methods_pair_their_global_models_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let exp = preset("smoke").unwrap();
    // Global after (pooled) per replicate: NestEvo ends 0.02, 0.025, 0.015 above A2.
    let (a2_after, gain) = ([0.40, 0.55, 0.45], [0.02, 0.025, 0.015]);
    for r in 0..3 {
        let e = exp.replicate(r, false);
        for (m, after, evolutions) in [
            ("nestevo", a2_after[r] + gain[r], 3),
            ("a2", a2_after[r], 3),
            ("a3", 0.5, 0),
        ] {
            let d = out.join(format!("rep{r}/{m}"));
            finished(&d, &e, 0.4, evolutions);
            let p = d.join("summary.json");
            let mut s: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            s["global_map50_after"] = Value::from(after);
            s["global_mean_map50_after"] = Value::from(after + 0.1);
            std::fs::write(&p, s.to_string()).unwrap();
        }
    }
    let reps = Replicates {
        count: 3,
        tuning: false,
        shard: None,
    };
    let report = nestevo_experiments::replicates::tables(
        &exp,
        &[Method::Nestevo, Method::A2, Method::A3],
        &reps,
        out,
    )
    .unwrap();
    let row = |what: &str| report.paired.iter().find(|p| p.what == what);
    for what in [
        "nestevo - a2 (global after, pooled)",
        "nestevo - a2 (global after, mean over terminals)",
    ] {
        let d = &row(what).unwrap().difference;
        // Differences 0.02, 0.025, 0.015: mean 0.02, s = 0.005.
        let half = t975(2) * 0.005 / 3f64.sqrt();
        assert!((d.mean - 0.02).abs() < 1e-12, "{what}: {}", d.mean);
        assert!((d.hi - d.mean - half).abs() < 1e-9, "{what}");
        assert_eq!(row(what).unwrap().verdict, "above");
    }
    assert!(row("nestevo - a3 (global after, pooled)").is_none());
    assert!(row("nestevo - a3 (final terminal mean)").is_some());
}
