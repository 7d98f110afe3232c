#![cfg(feature = "torch")]
//! A terminal fed from a user's folder of frames: the loop on a folder holding a rendered
//! stream's frames gives exactly the run on that stream, and a folder that cannot serve the run
//! (too short, unlabelled, missing, of the wrong frame size) is refused naming the field.

use nestevo_data::{export_frames, Stream, StreamId};
use nestevo_evolve::config::{apply_overrides, preset, Experiment};
use nestevo_evolve::run::{run, terminal_sources, Method, RunOptions, WindowRecord};

use crate::common;

/// The smoke preset, shrunk to one window of 4 s (120 frames at 30 fps: a folder needs 3 x 120).
fn experiment(extra: &[String]) -> Experiment {
    let mut sets = vec!["windows.count=1", "windows.t_total_s=4"];
    sets.extend(extra.iter().map(String::as_str));
    common::small_smoke(&sets)
}

fn folder_sets(dir: &std::path::Path) -> Vec<String> {
    vec![
        "terminals.0.stream=folder".into(),
        format!("terminals.0.frames={}", dir.display()),
    ]
}

fn run_in(exp: Experiment, out: &std::path::Path) -> Vec<WindowRecord> {
    let s = run(&RunOptions {
        exp,
        method: Method::Nestevo,
        out: out.to_path_buf(),
        device: tch::Device::Cpu,
        resume: false,
        progress: false,
    })
    .unwrap();
    assert_eq!(s.terminals.len(), 2);
    serde_json::from_str(&std::fs::read_to_string(out.join("windows.json")).unwrap()).unwrap()
}

/// The same frames from a folder or from the renderer give the same window records.
#[test]
fn a_folder_of_a_streams_frames_runs_as_that_stream() {
    let _serial = crate::serial();
    tch::set_num_threads(1);
    let frames = tempfile::tempdir().unwrap();
    // Terminal 0 of the smoke preset: stream D, seed 101.
    export_frames(&Stream::new(StreamId::D, 101), 0, 360, frames.path()).unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let rendered = run_in(experiment(&[]), a.path());
    let folder = run_in(experiment(&folder_sets(frames.path())), b.path());
    assert_eq!(rendered.len(), folder.len());
    for (r, f) in rendered.iter().zip(&folder) {
        assert_eq!(f.stream, if f.terminal == "rural" { "folder" } else { "E" });
        let mut f = f.clone();
        f.stream = r.stream.clone();
        // Times are measured, and the deployed score and LCP follow them: compare the rest.
        (f.t_w, f.t_r, f.t_c, f.label_s) = (r.t_w, r.t_r, r.t_c, r.label_s);
        (f.lcp, f.map50_deployed) = (r.lcp, r.map50_deployed);
        assert_eq!(&f, r);
    }
}

/// A folder too short for the run, without ground truth, or missing is refused by name.
#[test]
fn unusable_folders_are_refused_by_name() {
    let _serial = crate::serial();
    let short = tempfile::tempdir().unwrap();
    export_frames(&Stream::new(StreamId::D, 1), 0, 100, short.path()).unwrap();
    let e = terminal_sources(&experiment(&folder_sets(short.path())))
        .unwrap_err()
        .to_string();
    for part in ["terminals[0].frames", "holds 100 frames", "need 360"] {
        assert!(e.contains(part), "{part} not in: {e}");
    }
    std::fs::remove_file(short.path().join(nestevo_data::ANNOTATIONS)).unwrap();
    let e = terminal_sources(&experiment(&folder_sets(short.path())))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("terminals[0].frames") && e.contains("annotations.json"),
        "{e}"
    );
    let gone = short.path().join("nothing-here");
    let e = terminal_sources(&experiment(&folder_sets(&gone)))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("terminals[0].frames") && e.contains("not a folder"),
        "{e}"
    );
}

/// `stream = "folder"` needs `frames`; `frames` and `fps` need `stream = "folder"`.
#[test]
fn folder_fields_go_together() {
    let _serial = crate::serial();
    let p = preset("smoke").unwrap();
    let e = apply_overrides(&p, &["terminals.0.stream=folder".into()], "smoke")
        .unwrap_err()
        .to_string();
    assert!(e.contains("terminals[0].frames"), "{e}");
    let e = apply_overrides(&p, &["terminals.0.frames=/tmp".into()], "smoke")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("terminals[0].frames") && e.contains("only with stream"),
        "{e}"
    );
    let e = apply_overrides(
        &p,
        &[
            "terminals.0.stream=folder".into(),
            "terminals.0.frames=/tmp".into(),
            "terminals.0.fps=0".into(),
        ],
        "smoke",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("terminals[0].fps"), "{e}");
}
