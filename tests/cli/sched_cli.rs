//! `nestevo sched plan`: the choice printed (text and JSON) and its errors.

use std::process::Command;

fn nestevo(args: &[&str]) -> (bool, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_nestevo"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

/// `sched plan --json` prints `chosen`, `value` and `memory_mb`: the knapsack picks the two
/// short jobs that fit together over the long one, FIFO the first job only.
#[test]
fn plan_command_prints_the_choice() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("jobs.json");
    std::fs::write(
        &p,
        r#"[{"id":"long","memory_mb":600,"seconds":10},
            {"id":"a","memory_mb":300,"seconds":2,"arrival_s":1},
            {"id":"b","memory_mb":300,"seconds":2,"alpha":2,"arrival_s":2}]"#,
    )
    .unwrap();
    let f = p.to_str().unwrap();
    let (ok, out, err) = nestevo(&["sched", "plan", "--jobs", f, "--memory-mb", "700", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["chosen"], serde_json::json!(["a", "b"]));
    assert!((v["value"].as_f64().unwrap() - 1.5).abs() < 1e-12);
    assert_eq!(v["memory_mb"].as_f64().unwrap(), 600.0);
    let (ok, out, _) = nestevo(&[
        "sched",
        "plan",
        "--jobs",
        f,
        "--memory-mb",
        "700",
        "--policy",
        "fifo",
        "--json",
    ]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["chosen"], serde_json::json!(["long"]));
    let (ok, _, err) = nestevo(&[
        "sched",
        "plan",
        "--jobs",
        f,
        "--memory-mb",
        "700",
        "--policy",
        "lifo",
    ]);
    assert!(
        !ok && err.contains("policy") && err.contains("lifo") && err.contains("knapsack"),
        "{err}"
    );
    // The text form says what sized the jobs.
    let (ok, out, err) = nestevo(&[
        "sched",
        "plan",
        "--jobs",
        f,
        "--memory-mb",
        "700",
        "--predictor",
        "models/sched/predictor.json",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("start 2 of 3 jobs: a, b")
            && out.contains("sized by models/sched/predictor.json (MLP"),
        "{out}"
    );
    let (ok, _, err) = nestevo(&["sched", "plan", "--jobs", f, "--memory-mb", "0"]);
    assert!(
        !ok && err.contains("memory_mb") && err.contains("above 0"),
        "{err}"
    );
    std::fs::write(&p, r#"[{"id":"x","memory_mb":-1,"seconds":1}]"#).unwrap();
    let (ok, _, err) = nestevo(&["sched", "plan", "--jobs", f, "--memory-mb", "700"]);
    assert!(
        !ok && err.contains("jobs.json") && err.contains("memory_mb"),
        "{err}"
    );
}
