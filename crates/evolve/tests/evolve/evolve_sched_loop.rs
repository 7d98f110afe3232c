#![cfg(feature = "torch")]
//! The evolution loop takes t_w and t_r from the scheduler: on the smoke preset (shrunk, one
//! co-evolution window) the window records hold what `evolve::schedule` (hence
//! `sched::simulate` + `sched::terminal_times`) gives for the recorded jobs, and replaying the
//! same jobs under fifo instead of knapsack makes the second terminal wait for the first.

use nestevo_evolve::run::{run, Method, RunOptions, WindowRecord};
use nestevo_evolve::schedule::{schedule, Stage, WindowSchedule};
use nestevo_sched::JobKind;

use crate::common;

/// Knapsack's window records equal the scheduler's replay; fifo on the same jobs is serial.
#[test]
fn window_times_come_from_the_scheduler() {
    let _serial = crate::serial();
    tch::set_num_threads(1);
    let exp = common::small_smoke(&["windows.count=1", "sched.policy=knapsack"]);
    let out = tempfile::tempdir().unwrap();
    run(&RunOptions {
        exp: exp.clone(),
        method: Method::Nestevo,
        out: out.path().to_path_buf(),
        device: tch::Device::Cpu,
        resume: false,
        progress: false,
    })
    .unwrap();
    let records: Vec<WindowRecord> =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("windows.json")).unwrap())
            .unwrap();
    let sch: WindowSchedule = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("rounds/w0/schedule.json")).unwrap(),
    )
    .unwrap();
    // Labelling, generator, pairs, FedAvg + relabel, distillations; one pair and one
    // distillation per terminal, every job with a modelled memory and a measured time.
    let names: Vec<&str> = sch
        .stages
        .iter()
        .map(|s| match s {
            Stage::Serial { name, .. } | Stage::Jobs { name, .. } => name.as_str(),
        })
        .collect();
    assert_eq!(
        names,
        ["label", "generator", "pairs", "fedavg+relabel", "distill"]
    );
    assert_eq!(sch.jobs.len(), 5);
    for j in &sch.jobs {
        assert!(
            j.memory_mb > exp.sched.workspace_mb && j.solo_s > 0.0,
            "{j:?}"
        );
    }
    let mem = |k: JobKind| sch.jobs.iter().find(|j| j.kind == k).unwrap().memory_mb;
    assert!(mem(JobKind::Mutual) > mem(JobKind::Distill));
    // The records are the replay's, and the replay is reproducible from its stages.
    // (JSON reads floats back to within an ulp or so.)
    let near = |a: f64, b: f64| (a - b).abs() <= 1e-9 * (1.0 + a.abs());
    let again = schedule(&sch.stages, &exp.sched, 0).unwrap();
    assert_eq!(again.jobs.len(), sch.jobs.len());
    for (a, b) in again.jobs.iter().zip(&sch.jobs) {
        assert!(a.id == b.id && near(a.start_s, b.start_s) && near(a.end_s, b.end_s));
    }
    assert_eq!(records.len(), 2);
    for r in &records {
        let (tw, tr) = sch.terminal_times(&r.terminal);
        assert!(near(r.t_w, tw) && near(r.t_r, tr), "{}", r.terminal);
        let own: f64 = sch
            .jobs
            .iter()
            .filter(|j| j.terminal.as_deref() == Some(r.terminal.as_str()))
            .map(|j| j.solo_s)
            .sum();
        // util 0.5 and both pairs within the budget: each job runs at full speed.
        assert!((tr - own).abs() < 1e-6, "{tr} vs {own}");
    }
    let pairs: Vec<_> = sch
        .jobs
        .iter()
        .filter(|j| j.kind == JobKind::Mutual)
        .collect();
    assert_eq!(
        pairs[0].start_s, pairs[1].start_s,
        "knapsack starts both pairs"
    );
    // fifo on the same jobs: the second pair waits for the first.
    let fifo_spec = nestevo_evolve::config::SchedSpec {
        policy: "fifo".into(),
        ..exp.sched.clone()
    };
    let fifo = schedule(&sch.stages, &fifo_spec, 0).unwrap();
    let second = &records[1].terminal;
    let (tw_f, tr_f) = fifo.terminal_times(second);
    let (tw_k, tr_k) = sch.terminal_times(second);
    assert!((tr_f - tr_k).abs() < 1e-9);
    // Serial: it waits for the first terminal's pair and distillation, which ran beside its own
    // under knapsack: t_w grows by rp + rd - max(rp, np) + np (pairs rp, np; distillation rd).
    let solo = |id: String| sch.jobs.iter().find(|j| j.id == id).unwrap().solo_s;
    let first = &records[0].terminal;
    let (rp, np, rd) = (
        solo(format!("pair-{first}")),
        solo(format!("pair-{second}")),
        solo(format!("distill-{first}")),
    );
    let grow = rp + rd - rp.max(np) + np;
    assert!(
        (tw_f - tw_k - grow).abs() < 1e-6,
        "{tw_f} - {tw_k} vs {grow}"
    );
    assert!(fifo.end_s() > sch.end_s());
}
