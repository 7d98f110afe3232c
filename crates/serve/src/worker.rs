//! The evolution worker: one plain thread (LibTorch work stays off the async runtime) that
//! takes ready windows from the service's queue and drives an `Evolver` (the real one is
//! `evolve::edge::Edge`, see `edge_evolver`): per window, the requests' frames are read back
//! from disk, `window(w, uploads)` runs, every changed terminal model is saved as a checkpoint
//! under `models/ID/wW/` and the window's outcome is committed in one transaction (new versions,
//! requests done, next upload counts, the global model). A window that fails marks its requests
//! failed with the reason. After a restart the evolver is rebuilt from the database (models at
//! their committed versions, last deltas, the global model), so a window that was running runs
//! again from the same state.

use super::error::{Result, ServeError};
use super::service::{Service, TerminalResult};
use super::store::EvolutionRow;
use nestevo_data::Frame;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A terminal's frames of one window.
pub struct Upload {
    pub terminal: String,
    pub frames: Vec<Frame>,
}

/// What a window did for one terminal.
pub struct Evolved {
    pub terminal: String,
    pub action: String,
    pub delta: f64,
    /// Whether its model changed (then it is saved as a new version).
    pub changed: bool,
}

pub struct WindowResult {
    /// The drift rule's decision: distill-only or co-evolve.
    pub decision: String,
    pub terminals: Vec<Evolved>,
    pub global_updated: bool,
}

/// The edge's brain as the service needs it.
pub trait Evolver {
    fn add_terminal(&mut self, id: &str, stream: &str, model: &Path) -> Result<()>;
    /// Restart: the terminal's committed model and its last drift.
    fn restore_terminal(&mut self, id: &str, model: &Path, delta: Option<f64>) -> Result<()>;
    /// Restart: the committed global model, `version` co-evolutions old.
    fn restore_global(&mut self, path: &Path, version: usize) -> Result<()>;
    /// Frames each terminal should upload next window (Eq. 5).
    fn upload_plan(&self) -> Vec<(String, usize)>;
    fn window(&mut self, w: usize, uploads: Vec<Upload>) -> Result<WindowResult>;
    /// Writes terminal `id`'s current model into `dir`; returns the `.safetensors` path.
    fn save_terminal(&self, id: &str, dir: &Path) -> Result<PathBuf>;
    /// Writes the global model into `dir`; returns the path and its version.
    fn save_global(&self, dir: &Path) -> Result<(PathBuf, usize)>;
    /// Writes every kept intermediate model into `dir` as `mid-<terminal>.safetensors` (none
    /// kept: nothing).
    fn save_intermediates(&self, _dir: &Path) -> Result<()> {
        Ok(())
    }
    /// Restart: terminal `id`'s intermediate as a finished window left it.
    fn restore_intermediate(&mut self, _id: &str, _model: &Path) -> Result<()> {
        Ok(())
    }
    /// Frames of earlier uploads each terminal keeps against forgetting (0: none).
    fn memory_frames(&self) -> usize {
        0
    }
    /// Restart: an earlier upload of terminal `id`, oldest first, into its memory.
    fn remember(&mut self, _id: &str, _frames: Vec<Frame>) -> Result<()> {
        Ok(())
    }
}

/// Where window `w`'s intermediates are kept.
fn intermediates_dir(svc: &Service, w: usize) -> PathBuf {
    svc.dir.join("intermediates").join(format!("w{w}"))
}

/// Builds the evolver inside the worker thread (LibTorch objects never cross threads).
pub type EvolverFactory = Box<dyn FnOnce() -> Result<Box<dyn Evolver>> + Send>;

pub struct Worker {
    pub stop: Arc<AtomicBool>,
    pub handle: std::thread::JoinHandle<()>,
}

/// Starts the worker thread; a failure to build the evolver is logged and stops the worker
/// (requests stay queued for the next start).
pub fn spawn(svc: Arc<Service>, make: EvolverFactory) -> Worker {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let handle = std::thread::Builder::new()
        .name("evolution".into())
        .spawn(move || {
            if let Err(e) = run(&svc, make, &s) {
                eprintln!("evolution worker stopped: {e}");
            }
        })
        .expect("spawning the evolution thread");
    Worker { stop, handle }
}

/// The frames a request's window read (the same on every call).
fn read_frames(svc: &Service, r: &EvolutionRow) -> Result<Vec<Frame>> {
    let rows = svc.store().frames_of(&r.terminal, r.window)?;
    // At most D_max frames, spread evenly over what the terminal sent.
    let cap = svc.exp.windows.d_max.max(1);
    let picked: Vec<_> = if rows.len() > cap {
        (0..cap)
            .map(|j| rows[j * rows.len() / cap].clone())
            .collect()
    } else {
        rows
    };
    picked
        .into_iter()
        .map(|(id, time_s, path)| {
            let (width, height, rgb) = nestevo_data::read_png(Path::new(&path))
                .map_err(|e| ServeError::Fault(format!("stored frame {id}: {e}")))?;
            Ok(Frame {
                width,
                height,
                rgb,
                boxes: Vec::new(),
                index: id as u64,
                time_s,
            })
        })
        .collect()
}

fn sync_terminals(svc: &Service, ev: &mut dyn Evolver, known: &mut HashSet<String>) -> Result<()> {
    let rows = svc.store().terminals()?;
    for t in rows {
        if known.contains(&t.id) {
            continue;
        }
        let (first, current, delta) = {
            let st = svc.store();
            let first = st
                .model_path(&t.id, 0)?
                .expect("version 0 is written at registration");
            let current = st.model_path(&t.id, t.version)?;
            (first, current, st.last_delta(&t.id)?)
        };
        ev.add_terminal(&t.id, &t.stream, Path::new(&first))?;
        if t.version > 0 || delta.is_some() {
            let p = current.unwrap_or(first);
            ev.restore_terminal(&t.id, Path::new(&p), delta)?;
        }
        restore_edge_state(svc, ev, &t.id)?;
        known.insert(t.id);
    }
    Ok(())
}

/// A restart: terminal `id`'s intermediate as its last finished window left it, and its memory
/// (its last uploads, read as those windows read them), so that the edge goes on as it would
/// have without the restart. A window that did not finish is not read: it runs again.
fn restore_edge_state(svc: &Service, ev: &mut dyn Evolver, id: &str) -> Result<()> {
    let done: Vec<EvolutionRow> = svc
        .store()
        .evolutions_in("done")?
        .into_iter()
        .filter(|r| r.terminal == id && r.frames > 0)
        .collect();
    let Some(last) = done.last() else {
        return Ok(());
    };
    let p = intermediates_dir(svc, last.window).join(format!("mid-{id}.safetensors"));
    if p.is_file() {
        ev.restore_intermediate(id, &p)?;
    }
    let cap = ev.memory_frames();
    let (mut uploads, mut n) = (Vec::new(), 0);
    for r in done.iter().rev() {
        if n >= cap {
            break;
        }
        let f = read_frames(svc, r)?;
        n += f.len();
        uploads.push(f);
    }
    for f in uploads.into_iter().rev() {
        ev.remember(id, f)?;
    }
    Ok(())
}

fn run_window(
    svc: &Service,
    ev: &mut dyn Evolver,
    w: usize,
    requests: &[EvolutionRow],
) -> Result<()> {
    let mut uploads = Vec::new();
    for r in requests.iter().filter(|r| r.frames > 0) {
        uploads.push(Upload {
            terminal: r.terminal.clone(),
            frames: read_frames(svc, r)?,
        });
    }
    let outcome = if uploads.is_empty() {
        WindowResult {
            decision: "none".into(),
            terminals: Vec::new(),
            global_updated: false,
        }
    } else {
        let o = ev.window(w, uploads)?;
        // Before the window is committed: a restart reads them only once it is.
        ev.save_intermediates(&intermediates_dir(svc, w))?;
        o
    };
    let mut results = Vec::new();
    for r in requests {
        let o = outcome.terminals.iter().find(|o| o.terminal == r.terminal);
        let checkpoint = match o {
            Some(o) if o.changed => {
                let dir = svc
                    .dir
                    .join("models")
                    .join(&r.terminal)
                    .join(format!("w{w}"));
                Some(ev.save_terminal(&r.terminal, &dir)?)
            }
            _ => None,
        };
        results.push(TerminalResult {
            request: r.id,
            terminal: r.terminal.clone(),
            action: o.map_or_else(|| "none".to_string(), |o| o.action.clone()),
            delta: o.map(|o| o.delta),
            checkpoint,
        });
    }
    let global = if outcome.global_updated {
        Some(ev.save_global(&svc.dir.join("global").join(format!("w{w}")))?)
    } else {
        None
    };
    svc.finish_window(&outcome.decision, &results, &ev.upload_plan(), w, global)
}

fn run(svc: &Arc<Service>, make: EvolverFactory, stop: &AtomicBool) -> Result<()> {
    let mut ev = make()?;
    if let Some((p, v)) = svc.store().global()? {
        ev.restore_global(Path::new(&p), v)?;
    }
    let mut known = HashSet::new();
    while !stop.load(Ordering::Relaxed) {
        // A failure outside a window (the database, a checkpoint that will not load) is
        // logged and tried again; the requests stay queued.
        if let Err(e) = step(svc, ev.as_mut(), &mut known) {
            eprintln!("evolution worker: {e}; retrying in 1 s");
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    Ok(())
}

fn step(svc: &Service, ev: &mut dyn Evolver, known: &mut HashSet<String>) -> Result<()> {
    sync_terminals(svc, ev, known)?;
    match svc.take_ready_window()? {
        Some((w, requests)) => {
            let t0 = std::time::Instant::now();
            if let Err(e) = run_window(svc, ev, w, &requests) {
                let ids: Vec<i64> = requests.iter().map(|r| r.id).collect();
                eprintln!("window {w}: failed: {e}");
                svc.fail_requests(&ids, &e.to_string())?;
            } else {
                eprintln!(
                    "window {w}: {} request(s) done in {:.1} s",
                    requests.len(),
                    t0.elapsed().as_secs_f64()
                );
            }
        }
        None => svc.wait_for_work(Duration::from_millis(200)),
    }
    Ok(())
}
