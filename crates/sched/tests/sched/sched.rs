//! The scheduler: never over memory, the knapsack optimal, the predictor learns, the
//! simulator's bookkeeping, and bad jobs files refused naming the field.

use nestevo_core::error::{ErrorKind, Kinded};
use nestevo_sched::policy::{knapsack, plan, validate, Policy, Units};
use nestevo_sched::predict::{mape, FitConfig, Mlp, Sample};
use nestevo_sched::{parse_jobs, simulate, Device, JobKind, Sized, Work};
use proptest::prelude::*;

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

/// A serial FIFO run of three jobs that arrive together: each waits for the ones before it.
#[test]
fn fifo_runs_jobs_in_arrival_order_one_at_a_time() {
    let jobs = vec![
        job(0, 10.0, 4.0, 0.0, 1.0),
        job(1, 10.0, 1.0, 0.5, 1.0),
        job(2, 10.0, 2.0, 1.0, 1.0),
    ];
    let (t, _) = simulate(
        Policy::Fifo,
        &jobs,
        &Device {
            budget_mb: 100.0,
            util: 1.0,
        },
        0,
    )
    .unwrap();
    let ends: Vec<f64> = t.iter().map(|t| t.end_s).collect();
    assert_eq!(ends, vec![4.0, 5.0, 7.0]);
    let (t, _) = simulate(
        Policy::Spf,
        &jobs,
        &Device {
            budget_mb: 100.0,
            util: 1.0,
        },
        0,
    )
    .unwrap();
    assert_eq!(
        t.iter().map(|t| t.end_s).collect::<Vec<_>>(),
        vec![4.0, 5.0, 7.0],
        "j1 and j2 came after j0 started"
    );
}

/// Processor sharing: two equal jobs together at util 0.5 run at full speed, at util 1 at half.
#[test]
fn concurrent_jobs_share_the_device_by_util() {
    let jobs = vec![job(0, 10.0, 2.0, 0.0, 1.0), job(1, 10.0, 2.0, 0.0, 1.0)];
    let (t, _) = simulate(
        Policy::Knapsack,
        &jobs,
        &Device {
            budget_mb: 100.0,
            util: 0.5,
        },
        0,
    )
    .unwrap();
    assert!(t.iter().all(|t| (t.end_s - 2.0).abs() < 1e-9), "{t:?}");
    let (t, _) = simulate(
        Policy::Knapsack,
        &jobs,
        &Device {
            budget_mb: 100.0,
            util: 1.0,
        },
        0,
    )
    .unwrap();
    assert!(t.iter().all(|t| (t.end_s - 4.0).abs() < 1e-9), "{t:?}");
}

/// Units round a job's memory up and the budget down, never below 1 MB, at most 4096 units.
#[test]
fn units_round_conservatively() {
    let u = Units::for_budget(1000.0);
    assert_eq!((u.weight(10.2), u.capacity(1000.9)), (11, 1000));
    let u = Units::for_budget(140_000.0);
    assert!(u.capacity(140_000.0) <= 4096);
}

/// The MLP learns a synthetic time law t = 2e-9 * MACs * batch * steps * (1 + kind) to within
/// 15 % on unseen jobs, and survives a save/load round trip unchanged.
#[test]
fn predictor_fits_synthetic_runs() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let mut draw = |n: usize| -> Vec<Sample> {
        (0..n)
            .map(|_| {
                let kind = JobKind::ALL[rng.gen_range(0..3)];
                let w = Work {
                    params: rng.gen_range(1e4..1e6),
                    macs_per_frame: rng.gen_range(1e6..1e8),
                    act_per_frame: rng.gen_range(1e4..1e6),
                    frames: rng.gen_range(8.0..64.0),
                    steps: rng.gen_range(3.0..40.0),
                    batch: [1.0, 2.0, 4.0, 8.0][rng.gen_range(0..4)],
                };
                let s = 2e-9 * w.macs_per_frame * w.batch * w.steps * (1.0 + kind.index() as f64);
                Sample {
                    kind,
                    work: w,
                    seconds: s,
                }
            })
            .collect()
    };
    let train = draw(200);
    let test = draw(50);
    let m = Mlp::fit(&train, &FitConfig::default()).unwrap();
    let pred: Vec<f64> = test.iter().map(|s| m.predict(s.kind, &s.work)).collect();
    let truth: Vec<f64> = test.iter().map(|s| s.seconds).collect();
    let (e, _) = mape(&pred, &truth);
    assert!(e < 15.0, "MAPE {e:.1} %");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.json");
    m.save(&p).unwrap();
    let back = Mlp::load(&p).unwrap();
    assert_eq!(back.predict(test[0].kind, &test[0].work), pred[0]);
}

/// A predictor file with a wrong matrix shape is refused naming the field.
#[test]
fn predictor_file_with_wrong_shape_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.json");
    let train: Vec<Sample> = (1..20)
        .map(|k| Sample {
            kind: JobKind::Other,
            work: Work {
                params: 1e4,
                macs_per_frame: 1e6 * k as f64,
                act_per_frame: 1e4,
                frames: 8.0,
                steps: 5.0,
                batch: 2.0,
            },
            seconds: 0.01 * k as f64,
        })
        .collect();
    let mut m = Mlp::fit(
        &train,
        &FitConfig {
            epochs: 10,
            ..Default::default()
        },
    )
    .unwrap();
    m.w2.pop();
    m.save(&p).unwrap();
    let e = Mlp::load(&p).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadInput);
    assert!(e.to_string().contains("w2"), "{e}");
}

/// Bad jobs files name the file and the field: negative memory, missing seconds, duplicates.
#[test]
fn bad_jobs_files_name_file_and_field() {
    let e = parse_jobs(r#"[{"id":"a","memory_mb":-5,"seconds":1}]"#, "jobs.json").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadInput);
    let s = e.to_string();
    assert!(
        s.contains("jobs.json") && s.contains("memory_mb") && s.contains("-5"),
        "{s}"
    );
    let s = parse_jobs(r#"[{"id":"a","memory_mb":5}]"#, "j.json")
        .unwrap_err()
        .to_string();
    assert!(s.contains("j.json") && s.contains("seconds"), "{s}");
    let s = parse_jobs(
        r#"[{"id":"a","memory_mb":5,"seconds":1},{"id":"a","memory_mb":5,"seconds":1}]"#,
        "j.json",
    )
    .unwrap_err()
    .to_string();
    assert!(s.contains("[1].id") && s.contains("unique"), "{s}");
    let s = parse_jobs(r#"[{"id":"a","memory":5,"seconds":1}]"#, "j.json")
        .unwrap_err()
        .to_string();
    assert!(s.contains("j.json") && s.contains("memory"), "{s}");
}

/// A zero budget and a job alone over the budget are refused as bad input.
#[test]
fn zero_budget_and_oversized_job_are_refused() {
    let jobs = vec![job(0, 500.0, 1.0, 0.0, 1.0)];
    let e = validate(&jobs, 0.0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadInput);
    assert!(e.to_string().contains("memory_mb"), "{e}");
    let e = plan(Policy::Knapsack, &jobs, 400.0, 0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadInput);
    assert!(
        e.to_string().contains("`j0`") && e.to_string().contains("over the budget"),
        "{e}"
    );
}

/// The scheduler's core never names LibTorch, the evolution system, the trainer or the service.
#[test]
fn sched_core_has_no_libtorch_and_no_evolve() {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("crates/sched/src");
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        for l in text.lines().map(|l| l.split("//").next().unwrap_or("")) {
            for bad in [
                "tch::",
                "crate::evolve",
                "crate::serve",
                "crate::train",
                "crate::couple",
            ] {
                assert!(!l.contains(bad), "{} names {bad}: {l}", p.display());
            }
        }
    }
}

/// A terminal's t_w + t_r spans its first arrival to its last end; t_r is the union of its
/// jobs' run intervals.
#[test]
fn terminal_times_split_wait_and_training() {
    use nestevo_sched::{terminal_times, JobTimes};
    let jt = |id: &str, a: f64, s: f64, e: f64| JobTimes {
        id: id.into(),
        terminal: "A".into(),
        arrival_s: a,
        start_s: s,
        end_s: e,
        memory_mb: 1.0,
    };
    let t = terminal_times(&[
        jt("x", 0.0, 1.0, 3.0),
        jt("y", 0.0, 2.0, 4.0),
        jt("z", 0.0, 6.0, 7.0),
    ]);
    assert_eq!(t.len(), 1);
    assert!(
        (t[0].t_r - 4.0).abs() < 1e-12 && (t[0].t_w - 3.0).abs() < 1e-12,
        "{t:?}"
    );
}
