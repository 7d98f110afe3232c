//! The edge service over loopback HTTP with a test double in place of the evolution loop
//! (`DoubleEvolver`: it "evolves" a terminal by re-saving its registered checkpoint), so that
//! these tests check the service (routes, auth, statuses, storage, idempotency, queue bound,
//! metrics, OpenAPI) in seconds. The real loop is exercised in tests/serve_edge.rs.

use nestevo_data::encode_png;
use nestevo_data::{Stream, StreamId};
use nestevo_serve as serve;
use nestevo_serve::client::Client;
use nestevo_serve::worker::{Evolved, Evolver, Upload, WindowResult};
use nestevo_serve::ServeConfig;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A stand-in for `evolve::edge::Edge` in HTTP-level tests only.
struct DoubleEvolver {
    models: HashMap<String, PathBuf>,
    windows: usize,
    /// Every window fails (to see a failed request).
    fail: bool,
    /// What a restart handed back: (terminal, intermediate path) and (terminal, frames).
    restored: Arc<Mutex<Restored>>,
}

#[derive(Default)]
struct Restored {
    intermediates: Vec<(String, PathBuf)>,
    remembered: Vec<(String, usize)>,
}

impl Evolver for DoubleEvolver {
    fn add_terminal(&mut self, id: &str, _: &str, model: &Path) -> serve::Result<()> {
        self.models.insert(id.into(), model.to_path_buf());
        Ok(())
    }
    fn restore_terminal(&mut self, id: &str, model: &Path, _: Option<f64>) -> serve::Result<()> {
        self.models.insert(id.into(), model.to_path_buf());
        Ok(())
    }
    fn restore_global(&mut self, _: &Path, _: usize) -> serve::Result<()> {
        Ok(())
    }
    fn upload_plan(&self) -> Vec<(String, usize)> {
        self.models
            .keys()
            .map(|k| (k.clone(), 3 + self.windows))
            .collect()
    }
    fn window(&mut self, _: usize, uploads: Vec<Upload>) -> serve::Result<WindowResult> {
        if self.fail {
            return Err(serve::ServeError::Fault(
                "the double refuses this window".into(),
            ));
        }
        self.windows += 1;
        Ok(WindowResult {
            decision: "distill-only".into(),
            terminals: uploads
                .iter()
                .map(|u| Evolved {
                    terminal: u.terminal.clone(),
                    action: format!("distill {} frames", u.frames.len()),
                    delta: 1.0,
                    changed: true,
                })
                .collect(),
            global_updated: false,
        })
    }
    fn save_terminal(&self, id: &str, dir: &Path) -> serve::Result<PathBuf> {
        std::fs::create_dir_all(dir).unwrap();
        let src = &self.models[id];
        let dst = dir.join(format!("{id}.safetensors"));
        std::fs::copy(src, &dst).unwrap();
        std::fs::copy(src.with_extension("toml"), dst.with_extension("toml")).unwrap();
        Ok(dst)
    }
    fn save_global(&self, _: &Path) -> serve::Result<(PathBuf, usize)> {
        unreachable!("the double never updates the global model")
    }
    /// Keeps one "intermediate" per terminal: a file naming the windows it saw.
    fn save_intermediates(&self, dir: &Path) -> serve::Result<()> {
        std::fs::create_dir_all(dir).unwrap();
        for id in self.models.keys() {
            std::fs::write(
                dir.join(format!("mid-{id}.safetensors")),
                format!("{}", self.windows),
            )
            .unwrap();
        }
        Ok(())
    }
    fn restore_intermediate(&mut self, id: &str, model: &Path) -> serve::Result<()> {
        let r = &mut self.restored.lock().unwrap().intermediates;
        r.push((id.into(), model.to_path_buf()));
        Ok(())
    }
    fn memory_frames(&self) -> usize {
        4
    }
    fn remember(&mut self, id: &str, frames: Vec<nestevo_data::Frame>) -> serve::Result<()> {
        let r = &mut self.restored.lock().unwrap().remembered;
        r.push((id.into(), frames.len()));
        Ok(())
    }
}

const ADMIN: &str = "admin-token-for-tests-0123456789";

fn start(dir: &Path, edit: impl FnOnce(&mut ServeConfig)) -> serve::Running {
    start_double(dir, edit, false)
}

fn start_double(dir: &Path, edit: impl FnOnce(&mut ServeConfig), fail: bool) -> serve::Running {
    start_with(dir, edit, fail, Arc::default())
}

fn start_with(
    dir: &Path,
    edit: impl FnOnce(&mut ServeConfig),
    fail: bool,
    restored: Arc<Mutex<Restored>>,
) -> serve::Running {
    let tok = dir.join("admin.tok");
    std::fs::write(&tok, ADMIN).unwrap();
    let mut cfg = ServeConfig::preset("smoke").unwrap();
    cfg.admin_token_file = Some(tok);
    cfg.max_body_bytes = 64 * 1024;
    cfg.window_timeout_s = 30.0;
    edit(&mut cfg);
    let make: serve::worker::EvolverFactory = Box::new(move || {
        Ok(Box::new(DoubleEvolver {
            models: HashMap::new(),
            windows: 0,
            fail,
            restored,
        }) as Box<dyn Evolver>)
    });
    serve::start(
        cfg,
        &dir.join("state"),
        "127.0.0.1:0".parse().unwrap(),
        make,
    )
    .unwrap()
}

fn url(r: &serve::Running) -> String {
    format!("http://{}", r.addr)
}

fn png(i: u64) -> Vec<u8> {
    let f = Stream::new(StreamId::D, 3).frame(i);
    encode_png(f.width, f.height, &f.rgb)
}

fn frame_files(dir: &Path) -> usize {
    let d = dir.join("state").join("frames");
    walk(&d)
}

fn walk(d: &Path) -> usize {
    std::fs::read_dir(d).map_or(0, |r| {
        r.map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p)
            } else {
                1
            }
        })
        .sum()
    })
}

fn status(c: &Client, method: &str, path: &str, h: &[(&str, &str)], body: Option<&[u8]>) -> u16 {
    c.send(method, path, h, body).unwrap().status
}

/// Registration, auth and the error statuses: each bad request gets its status and a message
/// naming the field, and nothing bad is stored.
#[test]
fn auth_and_errors_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path(), |_| {});
    let base = url(&r);
    let anon = Client::new(&base, None);
    let admin = Client::new(&base, Some(ADMIN.into()));
    let body = br#"{"id":"cam1","model":"M2","stream":"D"}"#;
    let json = [("Content-Type", "application/json")];
    assert_eq!(
        status(&anon, "POST", "/v1/terminals", &json, Some(body)),
        401
    );
    let wrong = Client::new(&base, Some("not-the-admin-token-xxxx".into()));
    assert_eq!(
        status(&wrong, "POST", "/v1/terminals", &json, Some(body)),
        401
    );
    let bad = admin
        .send(
            "POST",
            "/v1/terminals",
            &json,
            Some(br#"{"id":"x","model":"M9","stream":"D"}"#),
        )
        .unwrap();
    assert_eq!(bad.status, 400);
    assert!(String::from_utf8_lossy(&bad.body).contains("\"field\":\"model\""));
    let t1 = admin.register("cam1", "M2", "D").unwrap();
    assert_eq!((t1.width, t1.height, t1.model_version), (96, 96, 0));
    let again = admin.register("cam1", "M2", "D").unwrap_err();
    assert_eq!(again.status(), Some(409));
    let t2 = admin.register("cam2", "M2", "E").unwrap();
    let c1 = admin.with_token(&t1.token);
    let c2 = admin.with_token(&t2.token);

    let frames = "/v1/terminals/cam1/frames";
    let h = [("Content-Type", "image/png"), ("X-Frame-Time", "1.5")];
    let good = png(0);
    assert_eq!(status(&anon, "POST", frames, &h, Some(&good)), 401);
    assert_eq!(status(&wrong, "POST", frames, &h, Some(&good)), 401);
    assert_eq!(
        status(&c2, "POST", frames, &h, Some(&good)),
        403,
        "another terminal's token"
    );
    assert_eq!(
        status(&admin, "POST", frames, &h, Some(&good)),
        403,
        "the admin token"
    );
    assert_eq!(
        status(&c1, "POST", "/v1/terminals/nobody/frames", &h, Some(&good)),
        404
    );
    let mut corrupt = good.clone();
    corrupt.truncate(good.len() / 2);
    let a = c1.send("POST", frames, &h, Some(&corrupt)).unwrap();
    assert_eq!(a.status, 400);
    assert!(String::from_utf8_lossy(&a.body).contains("\"field\":\"body\""));
    let small = encode_png(64, 48, &vec![7u8; 64 * 48 * 3]);
    let a = c1.send("POST", frames, &h, Some(&small)).unwrap();
    assert_eq!(a.status, 400);
    assert!(String::from_utf8_lossy(&a.body).contains("64x48"));
    let big = vec![0u8; 64 * 1024 + 1];
    assert_eq!(status(&c1, "POST", frames, &h, Some(&big)), 413);
    let no_time = [("Content-Type", "image/png")];
    let a = c1.send("POST", frames, &no_time, Some(&good)).unwrap();
    assert_eq!(a.status, 400);
    assert!(String::from_utf8_lossy(&a.body).contains("X-Frame-Time"));
    let bad_time = [("Content-Type", "image/png"), ("X-Frame-Time", "soon")];
    assert_eq!(status(&c1, "POST", frames, &bad_time, Some(&good)), 400);
    assert_eq!(frame_files(dir.path()), 0, "no refused frame was stored");
    assert_eq!(anon.health().unwrap().frames_stored, 0);

    let ack = c1.put_frame("cam1", 1.5, &good).unwrap();
    assert!(!ack.duplicate);
    let again = c1.put_frame("cam1", 1.5, &good).unwrap();
    assert!(
        again.duplicate && again.frame_id == ack.frame_id,
        "a retry stores nothing new"
    );
    let other = png(1);
    assert_ne!(other, good);
    let t15 = [("Content-Type", "image/png"), ("X-Frame-Time", "1.5")];
    let a = c1.send("POST", frames, &t15, Some(&other)).unwrap();
    let msg = String::from_utf8_lossy(&a.body);
    assert_eq!(a.status, 409, "a different frame at a taken time: {msg}");
    assert!(
        msg.contains("X-Frame-Time") && msg.contains("different frame"),
        "{msg}"
    );
    assert_eq!(
        (
            frame_files(dir.path()),
            anon.health().unwrap().frames_stored
        ),
        (1, 1)
    );

    let e = c1.evolve("cam1", None).unwrap();
    assert_eq!(
        status(
            &anon,
            "GET",
            &format!("/v1/evolutions/{}", e.request_id),
            &[],
            None
        ),
        401
    );
    assert_eq!(
        status(
            &c2,
            "GET",
            &format!("/v1/evolutions/{}", e.request_id),
            &[],
            None
        ),
        403
    );
    assert_eq!(status(&c1, "GET", "/v1/evolutions/999", &[], None), 404);
    assert_eq!(status(&c1, "GET", "/v1/evolutions/abc", &[], None), 404);
    assert_eq!(
        status(&c2, "GET", "/v1/terminals/cam1/model", &[], None),
        403
    );
    assert_eq!(
        status(&c1, "POST", "/v1/terminals/cam2/evolutions", &[], Some(&[])),
        403
    );
    let (tag, bytes) = c1.model("cam1", None).unwrap().unwrap();
    assert_eq!(tag, "\"v0\"");
    assert_eq!(
        bytes,
        std::fs::read("models/pretrained/M2.safetensors").unwrap()
    );
    assert!(
        c1.model("cam1", Some(&tag)).unwrap().is_none(),
        "304 on the held version"
    );
    r.stop();
}

/// The same Idempotency-Key returns the same request; a malformed key is 400.
#[test]
fn idempotency_key_returns_the_same_request() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path(), |_| {});
    let admin = Client::new(&url(&r), Some(ADMIN.into()));
    let t = admin.register("a", "M2", "D").unwrap();
    admin.register("b", "M2", "D").unwrap();
    let c = admin.with_token(&t.token);
    c.put_frame("a", 0.0, &png(1)).unwrap();
    let e1 = c.evolve("a", Some("k-1")).unwrap();
    let e2 = c.evolve("a", Some("k-1")).unwrap();
    assert_eq!(e1.request_id, e2.request_id);
    assert_eq!((e1.frames, e1.state.as_str()), (1, "queued"));
    let bad = c
        .send(
            "POST",
            "/v1/terminals/a/evolutions",
            &[("Idempotency-Key", "")],
            Some(&[]),
        )
        .unwrap();
    assert_eq!(bad.status, 400);
    r.stop();
}

/// Over the queue bound an evolution request is 503 with Retry-After, and nothing is queued.
#[test]
fn queue_over_bound_is_503_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path(), |c| c.queue_bound = 1);
    let admin = Client::new(&url(&r), Some(ADMIN.into()));
    let a = admin.with_token(&admin.register("a", "M2", "D").unwrap().token);
    let mut b = admin.with_token(&admin.register("b", "M2", "D").unwrap().token);
    a.evolve("a", None).unwrap();
    b.max_attempts = 1;
    let url503 = format!("{}/v1/terminals/b/evolutions", url(&r));
    let resp = ureq::post(&url503)
        .set("Authorization", &format!("Bearer {}", b_token(&b)))
        .call();
    match resp {
        Err(ureq::Error::Status(503, resp)) => {
            assert_eq!(resp.header("Retry-After"), Some("10"));
        }
        other => panic!("expected 503, got {:?}", other.map(|x| x.status())),
    }
    assert!(matches!(
        b.evolve("b", None),
        Err(serve::client::ClientError::Unreachable { .. })
    ));
    assert_eq!(admin.health().unwrap().queue_depth, 1);
    r.stop();
}

fn b_token(c: &Client) -> String {
    c.token().unwrap().to_string()
}

/// Eight terminals at once: register, upload, ask; the window runs when all eight asked; each
/// gets version 1 (ETag "v1") and its next upload count.
#[test]
fn eight_concurrent_terminals_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path(), |_| {});
    let base = url(&r);
    // All register before any asks, so that the window is everyone's.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let hs: Vec<_> = (0..8)
        .map(|k| {
            let base = base.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let admin = Client::new(&base, Some(ADMIN.into()));
                let id = format!("t{k}");
                let c = admin.with_token(&admin.register(&id, "M2", "D").unwrap().token);
                barrier.wait();
                for i in 0..4 {
                    c.put_frame(&id, i as f64, &png(k * 10 + i)).unwrap();
                }
                let e = c.evolve(&id, Some("w0")).unwrap();
                let s = c
                    .wait_evolution(e.request_id, Duration::from_secs(60))
                    .unwrap();
                assert_eq!(s.state, "done", "{s:?}");
                assert_eq!((s.version, s.frames, s.window), (Some(1), 4, 0));
                assert_eq!(s.next_upload, 4, "the evolver's plan after one window");
                let (tag, _) = c
                    .model(&id, Some("\"v0\""))
                    .unwrap()
                    .expect("a new version");
                assert_eq!(tag, "\"v1\"");
                assert!(c.model(&id, Some(&tag)).unwrap().is_none());
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let m = Client::new(&base, None)
        .send("GET", "/metrics", &[], None)
        .unwrap();
    let text = String::from_utf8(m.body).unwrap();
    for needle in [
        "nestevo_http_requests_total{route=\"/v1/terminals/{id}/frames\",status=\"202\"} 32",
        "nestevo_frames_stored 32",
        "nestevo_evolution_queue_depth 0",
        "nestevo_evolution_latency_seconds_count 8",
        "nestevo_http_request_bytes_total",
    ] {
        assert!(text.contains(needle), "metrics lack `{needle}`:\n{text}");
    }
    r.stop();
}

/// A client that drops its connection half way through an upload stores nothing, and the
/// server carries on.
#[test]
fn dropped_upload_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path(), |_| {});
    let admin = Client::new(&url(&r), Some(ADMIN.into()));
    let t = admin.register("a", "M2", "D").unwrap();
    let body = png(5);
    let mut s = std::net::TcpStream::connect(r.addr).unwrap();
    write!(
        s,
        "POST /v1/terminals/a/frames HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: image/png\r\nX-Frame-Time: 2\r\nContent-Length: {}\r\n\r\n",
        t.token,
        body.len()
    )
    .unwrap();
    s.write_all(&body[..body.len() / 2]).unwrap();
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    drop(s);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(admin.health().unwrap().frames_stored, 0);
    assert_eq!(frame_files(dir.path()), 0);
    let c = admin.with_token(&t.token);
    assert!(
        !c.put_frame("a", 2.0, &body).unwrap().duplicate,
        "the same frame, whole, is new"
    );
    r.stop();
}

/// /openapi.json is an OpenAPI 3 document: version, info, every route with its operations and
/// responses, every $ref resolving to a component, the bearer scheme declared.
#[test]
fn openapi_document_is_valid_openapi_3() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path(), |_| {});
    let a = Client::new(&url(&r), None)
        .send("GET", "/openapi.json", &[], None)
        .unwrap();
    assert_eq!(a.status, 200);
    let doc: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let paths = doc["paths"].as_object().unwrap();
    for (p, m) in [
        ("/v1/terminals", "post"),
        ("/v1/terminals/{id}/frames", "post"),
        ("/v1/terminals/{id}/evolutions", "post"),
        ("/v1/evolutions/{request_id}", "get"),
        ("/v1/terminals/{id}/model", "get"),
        ("/healthz", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
    ] {
        let op = &paths[p][m];
        let responses = op["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{m} {p}"));
        assert!(!responses.is_empty());
        for code in responses.keys() {
            assert!(
                code.len() == 3 && code.parse::<u16>().is_ok(),
                "{p}: {code}"
            );
        }
        // Path parameters are declared for every {name} in the path.
        for part in p.split('/').filter(|s| s.starts_with('{')) {
            let name = part.trim_matches(|c| c == '{' || c == '}');
            let params = op["parameters"].as_array().unwrap();
            assert!(
                params
                    .iter()
                    .any(|x| x["name"] == name && x["in"] == "path" && x["required"] == true),
                "{p}: parameter {name}"
            );
        }
    }
    fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    if k == "$ref" {
                        out.push(x.as_str().unwrap().to_string());
                    } else {
                        refs(x, out);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for rf in all {
        let name = rf
            .strip_prefix("#/components/schemas/")
            .expect("a schema ref");
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling {rf}"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    r.stop();
}

/// A server stopped with requests queued and started again on the same folder keeps its
/// terminals, frames and requests, and runs the queued window.
#[test]
fn restart_keeps_everything_and_runs_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path(), |_| {});
    let admin = Client::new(&url(&r), Some(ADMIN.into()));
    let ta = admin.register("a", "M2", "D").unwrap();
    admin.register("b", "M2", "D").unwrap();
    let c = admin.with_token(&ta.token);
    for i in 0..3 {
        c.put_frame("a", i as f64, &png(i)).unwrap();
    }
    let e = c.evolve("a", Some("x")).unwrap();
    assert_eq!(e.state, "queued", "waits for b");
    r.stop();
    let r = start(dir.path(), |c| c.window_timeout_s = 0.0);
    let c = Client::new(&url(&r), Some(ta.token.clone()));
    let s = c
        .wait_evolution(e.request_id, Duration::from_secs(30))
        .unwrap();
    assert_eq!(
        (s.state.as_str(), s.frames, s.version),
        ("done", 3, Some(1))
    );
    assert_eq!(c.evolve("a", Some("x")).unwrap().request_id, e.request_id);
    assert_eq!(c.health().unwrap().frames_stored, 3);
    r.stop();
}

/// The edge's own state survives a restart: each terminal's intermediate as its last finished
/// window saved it, and its memory refilled from its stored uploads, newest last, until the
/// memory's size is reached (4 frames: the 3 of window 1 and the 2 of window 0, whole uploads).
/// A terminal that never finished a window gets nothing.
#[test]
fn restart_restores_intermediates_and_memories() {
    let dir = tempfile::tempdir().unwrap();
    let r = start(dir.path(), |c| c.window_timeout_s = 0.0);
    let admin = Client::new(&url(&r), Some(ADMIN.into()));
    let ta = admin.register("a", "M2", "D").unwrap();
    let c = admin.with_token(&ta.token);
    let mut t = 0.0;
    for n in [2, 3] {
        for _ in 0..n {
            c.put_frame("a", t, &png(t as u64)).unwrap();
            t += 1.0;
        }
        let e = c.evolve("a", None).unwrap();
        let s = c
            .wait_evolution(e.request_id, Duration::from_secs(30))
            .unwrap();
        assert_eq!((s.state.as_str(), s.frames), ("done", n));
    }
    admin.register("b", "M2", "D").unwrap();
    r.stop();
    let restored = Arc::new(Mutex::new(Restored::default()));
    let r = start_with(
        dir.path(),
        |c| c.window_timeout_s = 0.0,
        false,
        restored.clone(),
    );
    let t0 = std::time::Instant::now();
    while restored.lock().unwrap().remembered.len() < 2 {
        assert!(t0.elapsed() < Duration::from_secs(20), "nothing restored");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let got = restored.lock().unwrap();
    assert_eq!(got.intermediates.len(), 1, "{:?}", got.intermediates);
    let (id, p) = &got.intermediates[0];
    assert_eq!(id, "a");
    assert!(
        p.ends_with("intermediates/w1/mid-a.safetensors"),
        "{}",
        p.display()
    );
    assert_eq!(
        std::fs::read_to_string(p).unwrap(),
        "2",
        "saved after its second window"
    );
    assert_eq!(
        got.remembered,
        vec![("a".to_string(), 2), ("a".to_string(), 3)]
    );
    drop(got);
    r.stop();
}

/// A window that fails marks its request `failed` with the reason; the model stays.
#[test]
fn failed_window_reports_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let r = start_double(dir.path(), |c| c.window_timeout_s = 0.0, true);
    let admin = Client::new(&url(&r), Some(ADMIN.into()));
    let c = admin.with_token(&admin.register("a", "M2", "D").unwrap().token);
    c.put_frame("a", 0.0, &png(2)).unwrap();
    let e = c.evolve("a", None).unwrap();
    let s = c
        .wait_evolution(e.request_id, Duration::from_secs(30))
        .unwrap();
    assert_eq!(s.state, "failed");
    assert!(s.reason.unwrap().contains("refuses"));
    assert_eq!(c.model("a", None).unwrap().unwrap().0, "\"v0\"");
    r.stop();
}

/// An address no retry can reach (not a URL, another scheme) fails at once, saying how the
/// server is given, instead of retrying for minutes.
#[test]
fn an_unusable_address_fails_at_once() {
    for base in ["notaurl", "ftp://127.0.0.1:1"] {
        let c = Client::new(base, None);
        let t = std::time::Instant::now();
        let e = c.health().unwrap_err();
        assert!(
            matches!(e, nestevo_serve::client::ClientError::BadAddress { .. }),
            "{base}: {e}"
        );
        assert!(e.to_string().contains("http://127.0.0.1:8470"), "{e}");
        assert!(t.elapsed().as_secs_f64() < 2.0, "{base}: no retries");
        assert_eq!(c.retries.get(), 0);
    }
}

/// An experiment naming a checkpoint that is not there is refused at start, naming the field,
/// before any terminal registers.
#[test]
fn a_missing_checkpoint_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = nestevo_evolve::config::preset("smoke").unwrap();
    e.global.model = "models/pretrained/nope.safetensors".into();
    let exp = dir.path().join("exp.toml");
    std::fs::write(&exp, e.to_toml()).unwrap();
    let mut cfg = ServeConfig::preset("smoke").unwrap();
    cfg.experiment = exp.display().to_string();
    let msg = serve::service::Service::open(cfg, &dir.path().join("state"))
        .err()
        .unwrap()
        .to_string();
    assert!(
        msg.contains("global.model") && msg.contains("nope.safetensors"),
        "{msg}"
    );
}
