//! The scheduler in the loop (`evolve::schedule`): a window's stages replayed on the `[sched]`
//! device give each terminal's t_w and t_r as `sched::simulate` + `sched::terminal_times` do,
//! serial under fifo, side by side under knapsack when the budget holds both pairs.

use nestevo_evolve::config::SchedSpec;
use nestevo_evolve::schedule::{schedule, Stage, StageJob};
use nestevo_sched::JobKind;

fn job(id: &str, kind: JobKind, terminal: Option<&str>, mb: f64, s: f64) -> StageJob {
    StageJob {
        id: id.into(),
        kind,
        terminal: terminal.map(str::to_string),
        memory_mb: mb,
        seconds: s,
    }
}

/// A co-evolution window of two terminals: labelling 1 s, generator 2 s, pairs 4 s and 3 s
/// (100 MB each), FedAvg + relabel 0.5 s, distillations 2 s and 1 s (40 MB each).
fn window() -> Vec<Stage> {
    vec![
        Stage::Serial {
            name: "label".into(),
            seconds: 1.0,
        },
        Stage::Jobs {
            name: "generator".into(),
            jobs: vec![job("generator", JobKind::Generator, None, 50.0, 2.0)],
        },
        Stage::Jobs {
            name: "pairs".into(),
            jobs: vec![
                job("pair-a", JobKind::Mutual, Some("a"), 100.0, 4.0),
                job("pair-b", JobKind::Mutual, Some("b"), 100.0, 3.0),
            ],
        },
        Stage::Serial {
            name: "fedavg+relabel".into(),
            seconds: 0.5,
        },
        Stage::Jobs {
            name: "distill".into(),
            jobs: vec![
                job("distill-a", JobKind::Distill, Some("a"), 40.0, 2.0),
                job("distill-b", JobKind::Distill, Some("b"), 40.0, 1.0),
            ],
        },
    ]
}

fn spec(policy: &str, memory_mb: f64, util: f64) -> SchedSpec {
    SchedSpec {
        policy: policy.into(),
        memory_mb,
        util,
        ..Default::default()
    }
}

fn close(x: (f64, f64), y: (f64, f64)) {
    assert!(
        (x.0 - y.0).abs() < 1e-9 && (x.1 - y.1).abs() < 1e-9,
        "{x:?} != {y:?}"
    );
}

/// fifo is the serial clock; knapsack (room for both pairs, util 0.5) runs the pairs and the
/// distillations side by side, cutting t_w and leaving t_r (solo time at full speed) alone.
#[test]
fn fifo_is_serial_and_knapsack_runs_the_pairs_together() {
    let fifo = schedule(&window(), &spec("fifo", 300.0, 0.5), 0).unwrap();
    // a: pair 3-7, distill 10.5-12.5; b: pair 7-10, distill 12.5-13.5.
    close(fifo.terminal_times("a"), (6.5, 6.0));
    close(fifo.terminal_times("b"), (9.5, 4.0));
    assert_eq!(fifo.stage_end_s, vec![1.0, 3.0, 10.0, 10.5, 13.5]);
    assert_eq!(fifo.peak_mb, 100.0);
    let ks = schedule(&window(), &spec("knapsack", 300.0, 0.5), 0).unwrap();
    // Both pairs 3-7 / 3-6, FedAvg 7-7.5, both distillations from 7.5.
    close(ks.terminal_times("a"), (3.5, 6.0));
    close(ks.terminal_times("b"), (4.5, 4.0));
    assert_eq!(ks.peak_mb, 200.0);
    // A terminal without jobs neither waits nor trains.
    close(ks.terminal_times("c"), (0.0, 0.0));
    // Room for one pair only: the knapsack takes the larger 1/t first (b), then a.
    let tight = schedule(&window(), &spec("knapsack", 150.0, 0.5), 0).unwrap();
    let pa = tight.jobs.iter().find(|j| j.id == "pair-a").unwrap();
    let pb = tight.jobs.iter().find(|j| j.id == "pair-b").unwrap();
    assert_eq!(
        (pb.start_s, pb.end_s, pa.start_s, pa.end_s),
        (3.0, 6.0, 6.0, 10.0)
    );
    assert!(tight.peak_mb <= 150.0);
    // On a device one job saturates (util 1), running together gains nothing: a's pair
    // ends when fifo's would have, b's later than alone.
    let sat = schedule(&window(), &spec("knapsack", 300.0, 1.0), 0).unwrap();
    let pa = sat.jobs.iter().find(|j| j.id == "pair-a").unwrap();
    assert!((pa.end_s - 10.0).abs() < 1e-9, "{}", pa.end_s);
}

/// The replay's times are `sched::simulate` of each stage (arrivals at the stage's start) and
/// `sched::terminal_times` of each terminal's jobs with its request at 0.
#[test]
fn times_are_the_schedulers() {
    use nestevo_sched::{simulate, terminal_times, Device, JobTimes, Policy, Sized};
    let ks = schedule(&window(), &spec("knapsack", 300.0, 0.5), 0).unwrap();
    let pairs: Vec<Sized> = ["a", "b"]
        .iter()
        .zip([4.0, 3.0])
        .map(|(t, s)| Sized {
            id: format!("pair-{t}"),
            kind: JobKind::Mutual,
            terminal: t.to_string(),
            memory_mb: 100.0,
            seconds: s,
            alpha: 1.0,
            arrival_s: 3.0,
        })
        .collect();
    let dev = Device {
        budget_mb: 300.0,
        util: 0.5,
    };
    let (times, _) = simulate(Policy::Knapsack, &pairs, &dev, 2).unwrap();
    for t in &times {
        let j = ks.jobs.iter().find(|j| j.id == t.id).unwrap();
        assert_eq!((j.start_s, j.end_s), (t.start_s, t.end_s));
    }
    let own: Vec<JobTimes> = ks
        .jobs
        .iter()
        .filter(|j| j.terminal.as_deref() == Some("b"))
        .map(|j| JobTimes {
            id: j.id.clone(),
            terminal: "b".into(),
            arrival_s: 0.0,
            start_s: j.start_s,
            end_s: j.end_s,
            memory_mb: j.memory_mb,
        })
        .collect();
    let tt = &terminal_times(&own)[0];
    close(ks.terminal_times("b"), (tt.t_w, tt.t_r));
}

/// A job alone over the budget is refused naming the stage, `sched.memory_mb` and the job.
#[test]
fn a_job_over_the_budget_is_refused() {
    let e = schedule(&window(), &spec("knapsack", 80.0, 0.5), 0)
        .unwrap_err()
        .to_string();
    for p in ["pairs", "pair-a", "sched.memory_mb = 80", "over the budget"] {
        assert!(e.contains(p), "`{e}` lacks `{p}`");
    }
}

/// `replay` runs recorded windows under other policies: the means over terminals of the
/// hand-worked fifo and knapsack windows above.
#[test]
fn replay_gives_each_policys_means() {
    use nestevo_evolve::schedule::replay;
    let w = schedule(&window(), &spec("knapsack", 300.0, 0.5), 0).unwrap();
    let rows = replay(&[w], &["fifo", "knapsack"], None, 0).unwrap();
    let (f, k) = (&rows[0], &rows[1]);
    assert_eq!((f.0.as_str(), k.0.as_str()), ("fifo", "knapsack"));
    for (got, want) in [
        (f.1, 8.0),
        (f.2, 5.0),
        (f.3, 13.0),
        (k.1, 4.0),
        (k.2, 5.0),
        (k.3, 9.0),
    ] {
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    }
    let bad = schedule(&window(), &spec("knapsack", 300.0, 0.5), 0).unwrap();
    let e = replay(&[bad], &["lifo"], None, 0).unwrap_err().to_string();
    assert!(e.contains("lifo"), "{e}");
}
