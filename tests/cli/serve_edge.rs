//! The service with the real evolution loop (`evolve::edge::Edge`, preset `smoke`, CPU, one
//! LibTorch thread), as separate `nestevo serve` processes on loopback: a server killed with
//! SIGKILL while a window trains and started again on the same state folder completes the
//! request, keeps every acknowledged frame and produces the model an uninterrupted server
//! produces; and `nestevo terminal` plays a window against it.
#![cfg(feature = "torch")]

use nestevo_data::encode_png;
use nestevo_data::{Stream, StreamId};
use nestevo_serve::client::Client;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_nestevo");
const ADMIN: &str = "edge-test-admin-token-0123456789";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn server(dir: &Path, port: u16) -> Child {
    std::fs::write(dir.join("admin.tok"), ADMIN).unwrap();
    std::fs::write(
        dir.join("edge.toml"),
        "experiment = \"smoke\"\nadmin_token_file = \"admin.tok\"\nwindow_timeout_s = 0.0\n\
         threads = 1\n",
    )
    .unwrap();
    Command::new(BIN)
        .args(["serve", "--config"])
        .arg(dir.join("edge.toml"))
        .arg("--state")
        .arg(dir.join("state"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--cpu"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn up(base: &str) -> Client {
    let c = Client::new(base, Some(ADMIN.into()));
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(60) {
        if Client::new(base, None).health().is_ok() {
            return c;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("server at {base} did not come up");
}

/// Registers `rural` (M2, stream D seed 101) and uploads its 16 frames of window 0.
fn prepare(admin: &Client) -> (Client, Vec<i64>) {
    let t = admin.register("rural", "M2", "D").unwrap();
    let c = admin.with_token(&t.token);
    let st = Stream::new(StreamId::D, 101);
    let ids = (0..16u64)
        .map(|j| {
            let f = st.frame(j * 25);
            c.put_frame("rural", f.time_s, &encode_png(f.width, f.height, &f.rgb))
                .unwrap()
                .frame_id
        })
        .collect();
    (c, ids)
}

/// SIGKILL during an evolution, restart on the same state: the request completes (run twice,
/// once after the restart), every acknowledged frame is still there, and the model equals the
/// one an uninterrupted server makes from the same frames.
#[test]
fn sigkill_during_evolution_then_restart_completes() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut s = server(dir.path(), port);
    let admin = up(&base);
    let (c, ids) = prepare(&admin);
    let e = c.evolve("rural", Some("w0")).unwrap();
    let t0 = Instant::now();
    loop {
        let st = c.evolution(e.request_id).unwrap();
        if st.state == "running" {
            break;
        }
        assert!(st.state == "queued", "finished before the kill: {st:?}");
        assert!(t0.elapsed() < Duration::from_secs(120), "never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    s.kill().unwrap(); // SIGKILL
    s.wait().unwrap();
    let mut s = server(dir.path(), port);
    up(&base);
    let done = c
        .wait_evolution(e.request_id, Duration::from_secs(300))
        .unwrap();
    assert_eq!(done.state, "done", "{done:?}");
    assert_eq!((done.version, done.frames, done.runs), (Some(1), 16, 2));
    assert_eq!(
        c.evolve("rural", Some("w0")).unwrap().request_id,
        e.request_id
    );
    assert_eq!(c.health().unwrap().frames_stored, 16);
    let frames = std::fs::read_dir(dir.path().join("state/frames/rural"))
        .unwrap()
        .count();
    assert_eq!(frames, ids.len(), "every acknowledged frame is on disk");
    let (tag, killed) = c.model("rural", None).unwrap().unwrap();
    assert_eq!(tag, "\"v1\"");
    s.kill().unwrap();
    s.wait().unwrap();

    // The same frames through a server that is never interrupted.
    let dir2 = tempfile::tempdir().unwrap();
    let port2 = free_port();
    let base2 = format!("http://127.0.0.1:{port2}");
    let mut s2 = server(dir2.path(), port2);
    let (c2, _) = prepare(&up(&base2));
    let e2 = c2.evolve("rural", None).unwrap();
    let d2 = c2
        .wait_evolution(e2.request_id, Duration::from_secs(300))
        .unwrap();
    assert_eq!((d2.state.as_str(), d2.runs), ("done", 1));
    let (_, clean) = c2.model("rural", None).unwrap().unwrap();
    assert!(killed != std::fs::read("models/pretrained/M2.safetensors").unwrap());
    assert!(
        killed == clean,
        "the rerun after SIGKILL made another model"
    );
    s2.kill().unwrap();
    s2.wait().unwrap();
}

/// Runs `nestevo terminal` as terminal `id` (registering with the admin token) with `what`
/// (its frames and model) for one 20 s window; returns its first logged window.
fn play_one_window(
    base: &str,
    dir: &Path,
    id: &str,
    slot: &str,
    what: &[&str],
) -> serde_json::Value {
    let work = dir.join(format!("term-{id}"));
    let out = Command::new(BIN)
        .args(["terminal", "--server", base, "--id", id])
        .args(what)
        .args([
            "--seconds",
            "20",
            "--eval-frames",
            "16",
            "--cpu",
            "--threads",
            "1",
        ])
        .args(["--slot", slot, "--token-file"])
        .arg(dir.join(format!("{id}.json")))
        .arg("--register-with")
        .arg(dir.join("admin.tok"))
        .arg("--work")
        .arg(&work)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = std::fs::read_to_string(work.join("log.csv"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(lines, 2, "a header and one window");
    let log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(work.join("log.json")).unwrap()).unwrap();
    let w = log[0].clone();
    assert_eq!(
        (w["state"].as_str(), w["version_after"].as_u64()),
        (Some("done"), Some(1))
    );
    w
}

/// `nestevo terminal` registers, plays one window of the smoke stream against the real loop,
/// switches to the evolved model (version 1) and logs both scores; a second one plays an
/// unlabelled folder of frames the same way, its scores left empty.
#[test]
fn terminal_plays_one_window() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut s = server(dir.path(), port);
    up(&base);
    let what = ["--stream", "E", "--stream-seed", "102", "--model", "M3"];
    let w = play_one_window(&base, dir.path(), "night", "1", &what);
    assert_eq!(w["uploaded"], 16);
    for k in ["map50_before", "map50_after"] {
        let x = w[k].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&x), "{k} = {x}");
    }

    // A user's folder without ground truth: played, evolved and switched, scores left empty.
    let frames = dir.path().join("rural-frames");
    nestevo_data::export_frames(&Stream::new(StreamId::D, 101), 0, 1200, &frames).unwrap();
    std::fs::remove_file(frames.join(nestevo_data::ANNOTATIONS)).unwrap();
    let folder = frames.to_str().unwrap();
    let w = play_one_window(
        &base,
        dir.path(),
        "rural",
        "0",
        &["--folder", folder, "--model", "M2"],
    );
    assert!(
        w["map50_before"].is_null() && w["map50_after"].is_null(),
        "{w}"
    );
    s.kill().unwrap();
    s.wait().unwrap();
}
