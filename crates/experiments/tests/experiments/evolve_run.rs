#![cfg(feature = "torch")]
//! `evolve run` (distillation only) on the smoke preset, shrunk: the outputs are written, the
//! uploads stay within D_max, the final models load, and a run interrupted after its first
//! window and resumed gives exactly the figures of an uninterrupted run (and refuses to resume
//! with other settings). The run is a replicate (fresh seeds) with every part of co-evolution
//! that carries state across windows switched on: persistent intermediates, the terminals'
//! memories, batch-norm re-estimation, labels with per-terminal statistics, soft targets and
//! augmentation.

use nestevo_evolve::run::{Method, RunOptions, WindowRecord};
use nestevo_experiments::evolution::run;
use nestevo_train::checkpoint;

use crate::common;

fn options(out: &std::path::Path, windows: usize, resume: bool) -> RunOptions {
    let exp = common::small_smoke(&[
        &format!("windows.count={windows}"),
        "mutual.persist=true",
        "mutual.reestimate_bn=true",
        "mutual.freeze_bn=false",
        "distill.memory=6",
        "distill.soft=true",
        "distill.augment=true",
        "global.adapt_bn=true",
    ]);
    RunOptions {
        exp: exp.replicate(1, false),
        method: Method::Nestevo,
        out: out.to_path_buf(),
        device: tch::Device::Cpu,
        resume,
        progress: false,
    }
}

fn records(out: &std::path::Path) -> Vec<WindowRecord> {
    serde_json::from_str(&std::fs::read_to_string(out.join("windows.json")).unwrap()).unwrap()
}

/// Co-evolution, outputs, budget and resume.
#[test]
fn smoke_run_writes_its_outputs_and_resumes_exactly() {
    let _serial = crate::serial();
    tch::set_num_threads(1);
    let whole = tempfile::tempdir().unwrap();
    let s = run(&options(whole.path(), 2, false)).unwrap();
    assert_eq!((s.windows, s.terminals.len()), (2, 2));
    for f in [
        "summary.json",
        "windows.json",
        "windows.csv",
        "experiment.toml",
        "state.json",
        "map_over_time.png",
        "final/global.safetensors",
        "rounds/w1/global.safetensors",
    ] {
        assert!(whole.path().join(f).is_file(), "{f}");
    }
    let r = records(whole.path());
    assert_eq!(r.len(), 4);
    // Diagnostics: the pseudo labels against ground truth, the starting model on the same
    // frames, the intermediates' distances from the global model.
    for x in &r {
        let (p, q) = (x.pseudo_precision.unwrap(), x.pseudo_recall.unwrap());
        assert!((0.0..=1.0).contains(&p) && (0.0..=1.0).contains(&q));
        assert!((0.0..=1.0).contains(&x.map50_start));
        assert!(x.mid_distance.unwrap() > 0.0, "the intermediate trained");
        // The generator's diagnostics: on every row of a window it trained in, with the
        // pair's generated-sample cross-entropy (the preset leaves the feature term off).
        assert_eq!(x.gen_loss_first.is_some(), x.sample_ce_first.is_some());
        if let Some(acc) = x.gen_accuracy {
            assert!((0.0..=1.0).contains(&acc), "{acc}");
            assert!(x.gen_latent_norm.unwrap() > 0.0);
            assert!(x.gen_loss_last.unwrap().is_finite());
            assert!(x.sample_ce_last.unwrap() >= 0.0);
        }
        assert!(x.feature_first.is_none() && x.mid_latent_norm.is_none());
        assert!(x.terminal_ce_first.is_none() && x.projection_r2.is_none());
    }
    assert!(
        r.iter().any(|x| x.gen_accuracy.is_some()),
        "a generator trained"
    );
    let csv = std::fs::read_to_string(whole.path().join("windows.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(header.ends_with("mid_latent_norm,terminal_ce_first,terminal_ce_last,projection_r2"));
    let fields = header.split(',').count();
    assert!(csv.lines().all(|l| l.split(',').count() == fields));
    // Window 0's intermediates start as copies of the global model; window 1's start where
    // window 0's ended (kept across the window, not copied from the new global model).
    for t in &s.terminals {
        let rec = |w| {
            r.iter()
                .find(|x| x.window == w && x.terminal == t.id)
                .unwrap()
        };
        assert_eq!(rec(0).mid_distance_start, Some(0.0));
        let dir = whole.path().join("rounds/w0");
        let load = |n: &str| checkpoint::load(&dir.join(n), tch::Device::Cpu).unwrap().0;
        let mid = load(&format!("mid-{}.safetensors", t.id));
        let global = load("global.safetensors");
        let d = nestevo_evolve::coevolve::relative_distance(&mid, &global).unwrap();
        assert!(d > 0.0);
        let got = rec(1).mid_distance_start.unwrap();
        assert!((got - d).abs() < 1e-6 * d.max(1.0), "{got} against {d}");
        // Its logged mAP on the other terminal's upload equals a direct computation from the
        // saved intermediate and that upload drawn again.
        let e = options(whole.path(), 2, false).exp;
        let other = e.terminals.iter().position(|x| x.id != t.id).unwrap();
        let src = nestevo_evolve::run::terminal_sources(&e).unwrap();
        let up = rec_of(&r, 0, &e.terminals[other].id).uploaded;
        let frames = nestevo_evolve::run::upload_frames(&e, other, &src[other], 0, up).unwrap();
        let dets = nestevo_train::evaluate::predict(&mid, &frames, 64).unwrap();
        let direct = nestevo_eval::evaluate(&nestevo_eval::ground_truth(&frames), &dets).map50;
        let logged = rec(0).mid_map50_others.unwrap();
        assert!((logged - direct).abs() < 1e-9, "{logged} against {direct}");
    }
    assert!(s.start_terminal_map50_lo <= s.start_terminal_map50);
    // Table 3 inside the loop reads the same intermediates back: one row per window, the loss
    // the best single one's mAP minus the average's.
    let exp = options(whole.path(), 2, false).exp;
    let rows = nestevo_experiments::loop_aggregation::run_losses(
        &exp,
        whole.path(),
        0,
        "nestevo",
        tch::Device::Cpu,
    )
    .unwrap();
    assert_eq!(rows.len(), 2);
    for x in &rows {
        assert_eq!(x.intermediates.len(), 2);
        let best = x.intermediates.iter().map(|m| m.1).fold(f64::MIN, f64::max);
        assert!((x.loss - (best - x.average)).abs() < 1e-12);
        assert!((0.0..=1.0).contains(&x.average));
    }
    // The global model as it labels, before and after, read from a comparison's layout.
    let cmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(cmp.path().join("rep0")).unwrap();
    std::os::unix::fs::symlink(whole.path(), cmp.path().join("rep0/nestevo")).unwrap();
    let g = nestevo_experiments::loop_aggregation::global_adapted(cmp.path(), tch::Device::Cpu)
        .unwrap();
    assert_eq!(g.runs.len(), 1);
    let x = &g.runs[0];
    assert!((0.0..=1.0).contains(&x.before) && (0.0..=1.0).contains(&x.after));
    assert!(x.before != x.after, "the run changed the global model");
    assert!(cmp.path().join("global_adapted.md").is_file());
    assert!(g.nestevo_minus_a2.is_none(), "no a2 run to pair with");
    // The same run as the other method too: the paired difference is 0 exactly.
    std::os::unix::fs::symlink(whole.path(), cmp.path().join("rep0/a2")).unwrap();
    let g = nestevo_experiments::loop_aggregation::global_adapted(cmp.path(), tch::Device::Cpu)
        .unwrap();
    assert_eq!(g.runs.len(), 2);
    assert_eq!(g.nestevo_minus_a2.as_ref().unwrap().mean, 0.0);
    assert_eq!(s.global_evolutions, 2, "both windows co-evolve");
    assert!(r
        .iter()
        .all(|x| x.action == "co-evolve" && x.global_map50_after != x.global_map50));
    assert!(
        s.final_terminal_map50_lo <= s.final_terminal_map50
            && s.final_terminal_map50 <= s.final_terminal_map50_hi
    );
    for w in 0..2 {
        let up: usize = r.iter().filter(|x| x.window == w).map(|x| x.uploaded).sum();
        assert!(up <= 16 && r.iter().filter(|x| x.window == w).all(|x| x.uploaded >= 4));
    }
    for x in &r {
        assert!(x.delta > 0.0 && x.t_c > 0.0 && x.t_r > 0.0);
        assert!((0.0..=1.0).contains(&x.map50_after) && x.map50_after_lo <= x.map50_after_hi);
        let (lo, hi) = (
            x.map50_before.min(x.map50_after),
            x.map50_before.max(x.map50_after),
        );
        assert!(x.lcp >= lo - 1e-12 && x.lcp <= hi + 1e-12);
    }
    for t in &s.terminals {
        let (m, _) =
            checkpoint::load(std::path::Path::new(&t.final_model), tch::Device::Cpu).unwrap();
        assert_eq!(m.desc.name, t.id);
    }
    // Interrupted after window 0, then resumed to 2 windows.
    let cut = tempfile::tempdir().unwrap();
    run(&options(cut.path(), 1, false)).unwrap();
    // Resuming with other settings is refused, naming the field; the finished window stays.
    let mut other = options(cut.path(), 2, true);
    other.exp.distill.steps = 5;
    let e = run(&other).err().unwrap().to_string();
    assert!(
        e.contains("--resume") && e.contains("distill.steps: 4 -> 5"),
        "{e}"
    );
    let resumed = run(&options(cut.path(), 2, true)).unwrap();
    let (a, b) = (records(whole.path()), records(cut.path()));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        let strip = |r: &WindowRecord| WindowRecord {
            t_w: 0.0,
            t_r: 0.0,
            label_s: 0.0,
            lcp: 0.0,
            map50_deployed: 0.0,
            ..r.clone()
        };
        assert_eq!(strip(x), strip(y));
    }
    assert_eq!(resumed.mean_map50_after, s.mean_map50_after);
    assert_eq!(resumed.global_map50_after, s.global_map50_after);
    assert_eq!(resumed.final_terminal_map50, s.final_terminal_map50);
}

fn rec_of<'a>(r: &'a [WindowRecord], w: usize, id: &str) -> &'a WindowRecord {
    r.iter()
        .find(|x| x.window == w && x.terminal == id)
        .unwrap()
}

/// With `mutual.bn_frames = "source"` the new global model's statistics are those of the
/// replayed source frames: re-estimating the saved model on them changes nothing, and
/// `evolve global-bn` scores it the same as saved and as re-estimated.
#[test]
fn source_bn_frames_leave_the_global_model_with_the_source_statistics() {
    let _serial = crate::serial();
    tch::set_num_threads(1);
    let dir = tempfile::tempdir().unwrap();
    let mut o = options(dir.path(), 1, false);
    o.exp.mutual.bn_frames = nestevo_evolve::config::BnFrames::Source;
    run(&o).unwrap();
    let path = dir.path().join("final/global.safetensors");
    let (saved, _) = checkpoint::load(&path, tch::Device::Cpu).unwrap();
    let (again, _) = checkpoint::load(&path, tch::Device::Cpu).unwrap();
    let source = nestevo_evolve::edge::source_frames(&o.exp);
    nestevo_evolve::edge::reestimate_bn_on(&again, source.iter()).unwrap();
    let (a, b) = (saved.vs.variables(), again.vs.variables());
    let mut stats = 0;
    for (k, v) in &a {
        if k.ends_with("running_mean") || k.ends_with("running_var") {
            stats += 1;
        }
        let d = (v - &b[k]).abs().max().double_value(&[]);
        assert!(d < 1e-6, "{k}: {d}");
    }
    assert!(stats > 0, "the model has batch-norm statistics");
    let out = tempfile::tempdir().unwrap();
    // A link back to the folder above is followed once, not forever; the run is found once.
    std::os::unix::fs::symlink(dir.path(), dir.path().join("rounds/loop")).unwrap();
    let t = nestevo_experiments::global_bn::global_bn(
        &[dir.path().to_path_buf(), dir.path().join("rounds")],
        out.path(),
        tch::Device::Cpu,
    )
    .unwrap();
    assert_eq!(t.runs.len(), 1);
    let r = &t.runs[0];
    assert!((r.after.pooled - r.after_source.pooled).abs() < 1e-9);
    assert!((r.after.mean - r.after_source.mean).abs() < 1e-9);
    assert!(out.path().join("global_bn.md").is_file());
    // A folder without a finished run is refused, naming it.
    let empty = tempfile::tempdir().unwrap();
    let e = nestevo_experiments::global_bn::global_bn(
        &[empty.path().to_path_buf()],
        out.path(),
        tch::Device::Cpu,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains(&empty.path().display().to_string()), "{e}");
}
