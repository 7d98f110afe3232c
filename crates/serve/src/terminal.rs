//! A terminal that plays its stream (rendered, or a user's folder of frames) against the
//! server (`nestevo terminal`): window after
//! window it uploads the frames the server asks for (Eq. 5's adaptive count, from the last
//! answer), asks for evolution with an Idempotency-Key naming the window, waits for the
//! request, downloads its model when the version (ETag) changed and switches to it, and scores
//! its models against the stream's ground truth, exactly as the in-process loop
//! (`evolve::run`) does: the model before and after the window on `eval_frames` frames spread
//! over the next segment. Frames are chosen as the in-process loop chooses them (segment `w`,
//! spread evenly from an offset drawn from (seed, window, slot)), so a served run on the same
//! streams sees the same frames. A folder without ground truth is played all the same: it is
//! uploaded, evolved and switched, and its scores are left empty (null in the JSON log). The log (`log.csv`, `log.json` in `work`) is rewritten
//! atomically after every window; a restarted terminal resumes after the last logged window.

use super::client::Client;
use super::error::{Result, ServeError};
use nestevo_data::encode_png;
use nestevo_data::{Frame, FrameSource};
use nestevo_eval::{evaluate, ground_truth};
use nestevo_evolve::edge::seed_of;
use nestevo_train::checkpoint;
use nestevo_train::detector::Detector;
use nestevo_train::evaluate::predict;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct TerminalOptions {
    pub server: String,
    pub id: String,
    pub token: String,
    /// The frames it plays: a rendered stream or a folder.
    pub source: FrameSource,
    /// The deployed model's checkpoint (its description is reused for downloaded versions).
    pub model: PathBuf,
    /// The run's seed and this terminal's slot (its place among the experiment's terminals),
    /// which fix the upload frames as in the in-process loop.
    pub seed: u64,
    pub slot: usize,
    /// Windows to play.
    pub windows: usize,
    pub eval_frames: usize,
    pub work: PathBuf,
    /// How long to wait for one evolution request.
    pub evolution_timeout: Duration,
    pub device: tch::Device,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WindowLog {
    pub window: usize,
    /// Seconds since the terminal started (wall).
    pub wall_s: f64,
    /// Stream time at the window's end, seconds.
    pub stream_s: f64,
    pub uploaded: usize,
    pub request_id: i64,
    pub state: String,
    pub decision: Option<String>,
    pub action: Option<String>,
    pub version_before: u64,
    pub version_after: u64,
    /// mAP@0.5 of the model before and after the window on the next segment's frames (none
    /// for a folder without ground truth).
    pub map50_before: Option<f64>,
    pub map50_after: Option<f64>,
    pub retries: u64,
    /// Frames the server asks for next window.
    pub next_upload: usize,
}

fn version_of(etag: &str) -> u64 {
    etag.trim_matches('"')
        .trim_start_matches('v')
        .parse()
        .unwrap_or(0)
}

/// `n` frame indices spread evenly over segment `seg` of length `len`, from `offset` (the
/// in-process loop's rule).
pub fn spread(seg: u64, len: u64, n: usize, offset: u64) -> Vec<u64> {
    (0..n as u64)
        .map(|j| seg * len + (j * len / n.max(1) as u64 + offset) % len)
        .collect()
}

fn load_version(o: &TerminalOptions, etag: &str, bytes: &[u8]) -> Result<Detector> {
    let v = version_of(etag);
    let dir = o.work.join("models").join(format!("v{v}"));
    std::fs::create_dir_all(&dir)
        .map_err(|e| nestevo_core::error::IoError::new(&dir, "create folder", e))?;
    let w = dir.join(format!("{}.safetensors", o.id));
    nestevo_core::error::write_atomic(&w, bytes)?;
    let desc = std::fs::read(o.model.with_extension("toml")).map_err(|e| {
        nestevo_core::error::IoError::new(&o.model.with_extension("toml"), "read", e)
    })?;
    nestevo_core::error::write_atomic(&w.with_extension("toml"), &desc)?;
    Ok(checkpoint::load(&w, o.device)?.0)
}

fn map50(m: &Detector, frames: &[Frame], labelled: bool) -> Result<Option<f64>> {
    if !labelled {
        return Ok(None);
    }
    let d = predict(m, frames, 64)?;
    Ok(Some(evaluate(&ground_truth(frames), &d).map50))
}

fn score_text(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:.3}"))
}

fn write_log(work: &Path, log: &[WindowLog]) -> Result<()> {
    let json = serde_json::to_string_pretty(log).expect("serialisable");
    nestevo_core::error::write_atomic(&work.join("log.json"), json.as_bytes())?;
    let mut csv = String::from(
        "window,wall_s,stream_s,uploaded,request_id,state,decision,action,version_before,\
         version_after,map50_before,map50_after,retries\n",
    );
    for r in log {
        csv.push_str(&format!(
            "{},{:.3},{:.3},{},{},{},{},{},{},{},{},{},{}\n",
            r.window,
            r.wall_s,
            r.stream_s,
            r.uploaded,
            r.request_id,
            r.state,
            r.decision.as_deref().unwrap_or(""),
            r.action.as_deref().unwrap_or(""),
            r.version_before,
            r.version_after,
            r.map50_before.map_or(String::new(), |v| format!("{v:.4}")),
            r.map50_after.map_or(String::new(), |v| format!("{v:.4}")),
            r.retries
        ));
    }
    nestevo_core::error::write_atomic(&work.join("log.csv"), csv.as_bytes())?;
    Ok(())
}

fn client_err(e: super::client::ClientError) -> ServeError {
    ServeError::Fault(format!("terminal: {e}"))
}

/// Plays `o.windows` windows; returns the log.
pub fn play(o: &TerminalOptions, window_s: f64, first_upload: usize) -> Result<Vec<WindowLog>> {
    std::fs::create_dir_all(&o.work)
        .map_err(|e| nestevo_core::error::IoError::new(&o.work, "create folder", e))?;
    let mut c = Client::new(&o.server, Some(o.token.clone()));
    c.verbose = true;
    let st = &o.source;
    let len = (window_s * st.fps()).floor() as u64;
    if len == 0 {
        return Err(ServeError::bad(
            "window_s",
            format!("{window_s} s holds no frame"),
        ));
    }
    let mut log: Vec<WindowLog> = std::fs::read_to_string(o.work.join("log.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    // The current model: download (any version) to start where the server is.
    let (etag, bytes) = c
        .model(&o.id, None)
        .map_err(client_err)?
        .ok_or_else(|| ServeError::Fault("the first model download answered 304".into()))?;
    let mut model = load_version(o, &etag, &bytes)?;
    let mut etag = etag;
    let mut next_upload = log.last().map_or(first_upload, |l| l.next_upload);
    let t0 = Instant::now();
    let start = log.len();
    for w in start..o.windows {
        let n = next_upload.max(1);
        let offset = seed_of(o.seed, w, o.slot, 1) % (len / n as u64).max(1);
        for i in spread(w as u64, len, n, offset) {
            let f = st.frame(i)?;
            c.put_frame(&o.id, f.time_s, &encode_png(f.width, f.height, &f.rgb))
                .map_err(client_err)?;
        }
        let req = c
            .evolve(&o.id, Some(&format!("{}-window-{w}", o.id)))
            .map_err(client_err)?;
        let s = c
            .wait_evolution(req.request_id, o.evolution_timeout)
            .map_err(client_err)?;
        next_upload = s.next_upload;
        let before_v = version_of(&etag);
        // Score on segment w + 1: the model before, then the one the window produced.
        let mut eval: Vec<Frame> = spread(w as u64 + 1, len, o.eval_frames, 0)
            .into_iter()
            .map(|i| st.frame(i))
            .collect::<std::result::Result<_, _>>()?;
        for (j, f) in eval.iter_mut().enumerate() {
            f.index = j as u64;
        }
        let before = map50(&model, &eval, st.labelled())?;
        if let Some((tag, bytes)) = c.model(&o.id, Some(&etag)).map_err(client_err)? {
            model = load_version(o, &tag, &bytes)?;
            etag = tag;
        }
        let after = map50(&model, &eval, st.labelled())?;
        log.push(WindowLog {
            window: w,
            wall_s: t0.elapsed().as_secs_f64(),
            stream_s: st.time_s((w as u64 + 1) * len),
            uploaded: n,
            request_id: s.request_id,
            state: s.state.clone(),
            decision: s.decision.clone(),
            action: s.action.clone(),
            version_before: before_v,
            version_after: version_of(&etag),
            map50_before: before,
            map50_after: after,
            retries: c.retries.get(),
            next_upload,
        });
        write_log(&o.work, &log)?;
        eprintln!(
            "terminal {}: window {w}: {} frames up, {} ({}), v{} -> v{}, mAP@0.5 {} -> {}",
            o.id,
            n,
            s.state,
            s.action.as_deref().unwrap_or("-"),
            before_v,
            version_of(&etag),
            score_text(before),
            score_text(after)
        );
    }
    Ok(log)
}
