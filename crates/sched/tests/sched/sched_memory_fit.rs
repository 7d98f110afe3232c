//! The memory model's per-kind terms (`sched::profile::fit_memory`): recovered exactly from
//! runs that follow `c + s (m_act + m_grads) + m_params + m_opt`, kept at 0 or more, and a kind
//! with too few runs keeps the one workspace; `estimate_kind` uses them, `estimate` does not.

use nestevo_sched::memory::{KindFit, MemoryModel};
use nestevo_sched::profile::{fit_memory, ProfileRun, MIN_KIND_RUNS};
use nestevo_sched::{JobKind, Work};

fn run(kind: JobKind, batch: f64, act: f64, c: f64, s: f64) -> ProfileRun {
    let work = Work {
        params: 50_000.0,
        macs_per_frame: 1e6,
        act_per_frame: act,
        frames: 32.0,
        steps: 10.0,
        batch,
    };
    let m = MemoryModel {
        workspace_mb: 0.0,
        ..Default::default()
    }
    .estimate(&work);
    ProfileRun {
        id: format!("{kind:?}-{batch}-{act}"),
        kind,
        models: vec![],
        work,
        threads: 1,
        seconds: 1.0,
        cpu_seconds: 1.0,
        peak_mb: c + s * (m.activations_mb + m.grads_mb) + m.params_mb + m.optimizer_mb,
    }
}

/// Exact runs give back their c and s per kind; a kind with fewer runs than MIN_KIND_RUNS
/// (here none) keeps (workspace, 1).
#[test]
fn per_kind_terms_are_recovered() {
    let mut runs = Vec::new();
    for b in [1.0, 2.0, 4.0, 8.0, 16.0] {
        for a in [2e4, 6e4] {
            runs.push(run(JobKind::Distill, b, a, 11.0, 0.6));
            runs.push(run(JobKind::Mutual, b, a, 21.0, 0.27));
        }
    }
    for b in [1.0, 2.0] {
        runs.push(run(JobKind::Other, b, 3e4, 30.0, 0.5));
    }
    const { assert!(2 < MIN_KIND_RUNS) };
    let refs: Vec<&ProfileRun> = runs.iter().collect();
    let f = fit_memory(&refs, 9.0);
    let near = |k: KindFit, c: f64, s: f64| {
        assert!(
            (k.workspace_mb - c).abs() < 1e-6 && (k.act_scale - s).abs() < 1e-6,
            "{k:?} vs ({c}, {s})"
        );
    };
    near(f[JobKind::Distill.index()], 11.0, 0.6);
    near(f[JobKind::Mutual.index()], 21.0, 0.27);
    near(f[JobKind::Other.index()], 9.0, 1.0);
    near(f[JobKind::Generator.index()], 9.0, 1.0);
    let mem = MemoryModel {
        workspace_mb: 9.0,
        per_kind: Some(f),
        ..Default::default()
    };
    for r in &runs[..4] {
        let e = mem.estimate_kind(r.kind, &r.work).total_mb;
        assert!((e - r.peak_mb).abs() < 1e-6, "{e} vs {}", r.peak_mb);
    }
    // The kind-free estimate ignores the fit.
    let w = &runs[0].work;
    assert_eq!(
        mem.estimate(w),
        MemoryModel {
            workspace_mb: 9.0,
            ..Default::default()
        }
        .estimate(w)
    );
}

/// Runs whose peaks fall with the activations would fit a negative scale: it is held at 0
/// and the workspace refitted alone (the weighted mean), never below 0.
#[test]
fn negative_terms_are_clamped() {
    let runs: Vec<ProfileRun> = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
        .iter()
        .map(|&b| {
            let mut r = run(JobKind::Distill, b, 4e4, 0.0, 0.0);
            r.peak_mb = 40.0 - b;
            r
        })
        .collect();
    let refs: Vec<&ProfileRun> = runs.iter().collect();
    let f = fit_memory(&refs, 5.0)[JobKind::Distill.index()];
    assert!(f.act_scale >= 0.0 && f.workspace_mb >= 0.0, "{f:?}");
    assert_eq!(f.act_scale, 0.0);
}
