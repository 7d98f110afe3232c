//! `nestevo data render|sheet` end to end, and their errors.

use std::process::Command;

fn nestevo(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nestevo"))
        .args(args)
        .output()
        .unwrap();
    let s = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.success(), s(out.stdout), s(out.stderr))
}

#[test]
fn render_writes_pngs_and_coco_labels_that_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("c");
    let ds = d.to_str().unwrap();
    let (ok, out, err) = nestevo(&[
        "data", "render", "--stream", "c", "--frames", "5", "--start", "10", "--out", ds,
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("stream C") && out.contains("frames/s"),
        "{out}"
    );
    let frames = nestevo_data::read_frames_dir(&d).unwrap();
    assert_eq!(
        frames.iter().map(|f| f.index).collect::<Vec<_>>(),
        vec![10, 11, 12, 13, 14]
    );
    let want = nestevo_data::Stream::new(nestevo_data::StreamId::C, 0).frame(12);
    assert_eq!(frames[2].rgb, want.rgb);

    let (ok, out, _) = nestevo(&[
        "data", "render", "--stream", "D", "--frames", "2", "--seed", "3", "--out", ds, "--json",
    ]);
    assert!(ok);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["frames"], 2);
}

#[test]
fn sheet_writes_a_png_grid() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.png");
    let ps = p.to_str().unwrap();
    let (ok, _, err) = nestevo(&[
        "data", "sheet", "--stream", "E", "--cols", "3", "--rows", "2", "--scale", "1", "--out", ps,
    ]);
    assert!(ok, "{err}");
    let (w, h, _) = nestevo_data::read_png(&p).unwrap();
    assert_eq!((w, h), (3 * 98 + 2, 2 * 98 + 2));
}

#[test]
fn bad_arguments_are_named() {
    let (ok, _, err) = nestevo(&[
        "data", "render", "--stream", "G", "--frames", "1", "--out", "/tmp/x",
    ]);
    assert!(
        !ok && err.contains("allowed are source, A, B, C, D, E"),
        "{err}"
    );
    let (ok, _, err) = nestevo(&[
        "data", "render", "--stream", "A", "--frames", "1", "--size", "4", "--out", "/tmp/x",
    ]);
    assert!(
        !ok && err.contains("--size 4: allowed are 16 to 4096"),
        "{err}"
    );
    let (ok, _, err) = nestevo(&[
        "data", "render", "--stream", "A", "--frames", "0", "--out", "/tmp/x",
    ]);
    assert!(!ok && err.contains("--frames"), "{err}");
    assert!(!err.contains("panicked"));
}
