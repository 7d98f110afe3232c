//! The scheduler (issue 11): never over memory, the knapsack optimal, the predictor learns,
//! the simulator's bookkeeping, the `sched plan` command and its errors.

use nestevo_sched::policy::{knapsack, plan, Policy};
use nestevo_sched::{simulate, Device, JobKind, Sized};
use proptest::prelude::*;
use std::process::Command;

fn job(id: usize, mem: f64, secs: f64, arrival: f64, alpha: f64) -> Sized {
    Sized {
        id: format!("j{id}"),
        kind: JobKind::Other,
        terminal: format!("t{}", id % 3),
        memory_mb: mem,
        seconds: secs,
        alpha,
        arrival_s: arrival,
    }
}

/// The best value of any subset within `cap` units, by enumeration.
fn brute(items: &[(usize, f64)], cap: usize) -> f64 {
    let mut best = 0.0f64;
    for mask in 0u32..(1 << items.len()) {
        let (mut w, mut v) = (0, 0.0);
        for (i, it) in items.iter().enumerate() {
            if mask & (1 << i) != 0 {
                w += it.0;
                v += it.1;
            }
        }
        if w <= cap {
            best = best.max(v);
        }
    }
    best
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The knapsack's choice fits and its value equals the brute-force optimum (<= 10 jobs).
    #[test]
    fn knapsack_equals_brute_force(
        items in prop::collection::vec((1usize..60, 0.01f64..5.0), 0..10),
        cap in 0usize..150,
    ) {
        let chosen = knapsack(&items, cap);
        let w: usize = chosen.iter().map(|&i| items[i].0).sum();
        let v: f64 = chosen.iter().map(|&i| items[i].1).sum();
        prop_assert!(w <= cap);
        prop_assert!((v - brute(&items, cap)).abs() < 1e-9, "dp {v} vs brute {}", brute(&items, cap));
    }

    /// Under every policy, the jobs running at any moment of a simulation never hold more
    /// predicted memory than the budget, and every job starts after it arrives and ends.
    #[test]
    fn no_policy_exceeds_the_budget(
        raw in prop::collection::vec((1.0f64..900.0, 0.1f64..50.0, 0.0f64..100.0, 0.1f64..3.0), 1..25),
        budget in 900.0f64..3000.0,
        util in 0.05f64..1.0,
        seed in 0u64..1000,
    ) {
        let jobs: Vec<Sized> = raw.iter().enumerate().map(|(i, r)| job(i, r.0, r.1, r.2, r.3)).collect();
        let dev = Device { budget_mb: budget, util };
        for p in Policy::ALL {
            let (times, peak) = simulate(p, &jobs, &dev, seed).unwrap();
            prop_assert!(peak <= budget + 1e-6, "{p}: peak {peak} > {budget}");
            // Memory at each start instant, recomputed from the times.
            for t in &times {
                prop_assert!(t.start_s >= t.arrival_s - 1e-9 && t.end_s > t.start_s, "{p}: {t:?}");
                let at: f64 = times
                    .iter()
                    .filter(|o| o.start_s <= t.start_s + 1e-9 && o.end_s > t.start_s + 1e-9)
                    .map(|o| o.memory_mb)
                    .sum();
                prop_assert!(at <= budget + 1e-6, "{p}: {at} MB running at {} s", t.start_s);
            }
            if p.serial() {
                let mut s: Vec<_> = times.iter().map(|t| (t.start_s, t.end_s)).collect();
                s.sort_by(|a, b| a.0.total_cmp(&b.0));
                prop_assert!(s.windows(2).all(|w| w[1].0 >= w[0].1 - 1e-9), "{p} overlaps jobs");
            }
        }
    }

    /// One plan of any policy fits the budget; the knapsack plan's value is the brute-force
    /// optimum of the jobs' alpha / t over integer-MB memories.
    #[test]
    fn plans_fit_and_knapsack_plan_is_optimal(
        raw in prop::collection::vec((1u32..400, 0.1f64..50.0, 0.1f64..3.0), 1..10),
        budget in 400u32..1500,
        seed in 0u64..100,
    ) {
        let jobs: Vec<Sized> = raw.iter().enumerate().map(|(i, r)| job(i, r.0 as f64, r.1, 0.0, r.2)).collect();
        for p in Policy::ALL {
            let pl = plan(p, &jobs, budget as f64, seed).unwrap();
            prop_assert!(pl.memory_mb <= budget as f64 + 1e-9);
        }
        let items: Vec<(usize, f64)> = jobs.iter().map(|j| (j.memory_mb as usize, j.alpha / j.seconds)).collect();
        let pl = plan(Policy::Knapsack, &jobs, budget as f64, seed).unwrap();
        prop_assert!((pl.value - brute(&items, budget as usize)).abs() < 1e-9);
    }
}

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
