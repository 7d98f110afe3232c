//! The service's state, which knows nothing of HTTP: registration, tokens, frames, evolution
//! requests and model versions over the `store`, and the worker's side of the queue (which
//! window is ready, and recording its outcome). Every call that answers "stored" has committed
//! its transaction (and written its file atomically and synced it) before it returns.
//!
//! Identity: a bearer token is hashed (SHA-256) and looked up; the admin token registers
//! terminals, a terminal's token reaches only that terminal's routes. Missing or unknown
//! credentials: `Unauthorized`; someone else's: `Forbidden`.

use super::config::ServeConfig;
use super::error::{Result, ServeError};
use super::metrics::Metrics;
use super::store::{now_s, EvolutionRow, Store, TerminalRow};
use nestevo_data::StreamId;
use nestevo_evolve::config::Experiment;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

/// `POST /v1/terminals`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Letters, digits, `-` and `_`, at most 64.
    pub id: String,
    /// A shipped checkpoint's name (M1, M2, M3, terminal, ...).
    pub model: String,
    /// The terminal's stream (A-E, or source), for the record.
    pub stream: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Registered {
    pub id: String,
    /// Shown once: the server keeps only its hash.
    pub token: String,
    pub model_version: u64,
    /// Frames to upload before the next evolution request (Eq. 5).
    pub next_upload: usize,
    /// Seconds of stream time in one window.
    pub window_s: f64,
    pub width: usize,
    pub height: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FrameAck {
    pub frame_id: i64,
    /// True when a frame of this terminal at this stream time was already stored (a retry).
    pub duplicate: bool,
    /// Frames stored and waiting for this terminal's next evolution request.
    pub pending: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EvolutionStatus {
    pub request_id: i64,
    pub terminal: String,
    pub window: usize,
    /// queued, running, done or failed.
    pub state: String,
    /// The drift rule's decision (distill-only or co-evolve), once run.
    pub decision: Option<String>,
    /// What the method did for this terminal (distill, co-evolve, none, ...).
    pub action: Option<String>,
    /// The model version it produced.
    pub version: Option<u64>,
    /// Why it failed.
    pub reason: Option<String>,
    /// Frames the request took.
    pub frames: usize,
    /// Times the worker started it (more than 1 after a restart).
    pub runs: u32,
    /// Frames to upload for the next window.
    pub next_upload: usize,
}

/// What `/healthz` reports of the state.
pub struct Counts {
    /// Evolution requests queued or running.
    pub queue_depth: usize,
    pub frames_stored: u64,
    /// Terminals registered.
    pub terminals: usize,
}

/// One terminal's result in a finished window (from the worker).
pub struct TerminalResult {
    pub request: i64,
    pub terminal: String,
    pub action: String,
    /// delta_i of its upload, where it had one.
    pub delta: Option<f64>,
    /// The new checkpoint, None where the model was left as it was.
    pub checkpoint: Option<PathBuf>,
}

pub struct Service {
    pub cfg: ServeConfig,
    pub exp: Experiment,
    pub dir: PathBuf,
    store: Mutex<Store>,
    admin_hash: String,
    pub metrics: Arc<Metrics>,
    /// Wakes the worker when a request arrives.
    pub wake: (Mutex<bool>, Condvar),
}

pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// 32 random bytes from the operating system, as hex.
pub fn new_token() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex(&b)
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// `write_atomic`, then the file's data synced, so that the row committed after it never names
/// a file the machine could lose.
fn write_durable(path: &Path, bytes: &[u8]) -> Result<()> {
    nestevo_core::error::write_atomic(path, bytes)?;
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| nestevo_core::error::IoError::new(path, "sync", e))?;
    Ok(())
}

impl Service {
    /// Opens (or creates) the state folder: `state.db`, `frames/`, `models/`, and the admin token
    /// (the config's file, or `admin.token` made here on first start).
    pub fn open(cfg: ServeConfig, dir: &Path) -> Result<Arc<Service>> {
        let exp = cfg.experiment()?;
        // The checkpoints and frames it names, checked at start as the command line does
        // (paths are read from the working directory, as the evolutions read them).
        nestevo_evolve::config::check_files(&exp, &cfg.experiment)
            .map_err(|e| ServeError::Config(format!("experiment: {e}")))?;
        std::fs::create_dir_all(dir.join("frames"))
            .map_err(|e| nestevo_core::error::IoError::new(dir, "create folder", e))?;
        let store = Store::open(&dir.join("state.db"))?;
        let admin = match &cfg.admin_token_file {
            Some(f) => std::fs::read_to_string(f)
                .map_err(|e| {
                    ServeError::Config(format!(
                        "admin_token_file {}: cannot read: {e}",
                        f.display()
                    ))
                })?
                .trim()
                .to_string(),
            None => {
                let f = dir.join("admin.token");
                if f.is_file() {
                    std::fs::read_to_string(&f)
                        .map_err(|e| nestevo_core::error::IoError::new(&f, "read", e))?
                        .trim()
                        .to_string()
                } else {
                    let t = new_token();
                    write_durable(&f, t.as_bytes())?;
                    #[cfg(unix)]
                    {
                        use std::os::unix::fs::PermissionsExt;
                        let _ =
                            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600));
                    }
                    t
                }
            }
        };
        if admin.len() < 16 {
            let file = cfg
                .admin_token_file
                .clone()
                .unwrap_or_else(|| dir.join("admin.token"));
            return Err(ServeError::Config(format!(
                "admin token in {}: {} characters; at least 16 are needed",
                file.display(),
                admin.len()
            )));
        }
        let metrics = Arc::new(Metrics::new());
        metrics.frames_stored.set(store.frames_stored()? as i64);
        metrics.queue_depth.set(store.queue_depth()? as i64);
        Ok(Arc::new(Service {
            cfg,
            exp,
            dir: dir.to_path_buf(),
            store: Mutex::new(store),
            admin_hash: hash_token(&admin),
            metrics,
            wake: (Mutex::new(false), Condvar::new()),
        }))
    }

    pub fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn notify(&self) {
        *self.wake.0.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.wake.1.notify_all();
    }

    /// Whose token this is: the terminal's id.
    pub fn authenticate(&self, bearer: Option<&str>) -> Result<String> {
        let Some(t) = bearer else {
            return Err(ServeError::Unauthorized(
                "header `Authorization`: missing; send `Bearer TOKEN`".into(),
            ));
        };
        let h = hash_token(t);
        if h == self.admin_hash {
            return Err(ServeError::Forbidden(
                "header `Authorization`: the admin token does not reach terminal routes".into(),
            ));
        }
        self.store()
            .terminal_of_token(&h)?
            .ok_or_else(|| ServeError::Unauthorized("header `Authorization`: unknown token".into()))
    }

    /// The token must be terminal `id`'s own; `id` must exist.
    pub fn authorize(&self, bearer: Option<&str>, id: &str) -> Result<TerminalRow> {
        let who = self.authenticate(bearer)?;
        let t = self
            .store()
            .terminal(id)?
            .ok_or_else(|| ServeError::NotFound(format!("terminal `{id}`: not registered")))?;
        if who != id {
            return Err(ServeError::Forbidden(format!(
                "header `Authorization`: a token of terminal `{who}` cannot reach terminal `{id}`"
            )));
        }
        Ok(t)
    }

    fn checkpoint_of(&self, name: &str) -> PathBuf {
        self.cfg.models_dir.join(format!("{name}.safetensors"))
    }

    pub fn register(&self, bearer: Option<&str>, req: &RegisterRequest) -> Result<Registered> {
        match bearer {
            None => {
                return Err(ServeError::Unauthorized(
                    "header `Authorization`: missing; registration needs `Bearer ADMIN_TOKEN`"
                        .into(),
                ))
            }
            Some(t) if hash_token(t) != self.admin_hash => {
                return Err(ServeError::Unauthorized(
                    "header `Authorization`: not the admin token".into(),
                ))
            }
            _ => {}
        }
        if !valid_name(&req.id) {
            return Err(ServeError::bad(
                "id",
                format!(
                    "`{}`: 1 to 64 letters, digits, `-` or `_`",
                    req.id.escape_default()
                ),
            ));
        }
        if req.stream != "folder" && req.stream.parse::<StreamId>().is_err() {
            return Err(ServeError::bad(
                "stream",
                format!(
                    "`{}`: one of source, A, B, C, D, E, F, or folder (a user's frames)",
                    req.stream.escape_default()
                ),
            ));
        }
        let ckpt = self.checkpoint_of(&req.model);
        if !valid_name(&req.model) || !ckpt.is_file() {
            return Err(ServeError::bad(
                "model",
                format!(
                    "`{}`: not a shipped checkpoint in {} (e.g. M1, M2, M3)",
                    req.model.escape_default(),
                    self.cfg.models_dir.display()
                ),
            ));
        }
        let desc = nestevo_model::load_model(&ckpt.with_extension("toml"))
            .map_err(|e| ServeError::bad("model", format!("`{}`: {e}", req.model)))?;
        let [_, h, w] = desc.input;
        let token = new_token();
        let next_upload = self.exp.windows.d_max / self.exp.terminals.len().max(1);
        let mut st = self.store();
        let tx = st.conn.transaction()?;
        let exists: Option<String> = tx
            .query_row("SELECT id FROM terminals WHERE id = ?1", [&req.id], |r| {
                r.get(0)
            })
            .optional()?;
        if exists.is_some() {
            return Err(ServeError::Conflict(format!(
                "field `id`: terminal `{}` is already registered",
                req.id
            )));
        }
        tx.execute(
            "INSERT INTO terminals (id, token_hash, model, stream, width, height, version,
             next_upload, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8)",
            params![
                req.id,
                hash_token(&token),
                req.model,
                req.stream,
                w as i64,
                h as i64,
                next_upload as i64,
                now_s()
            ],
        )?;
        tx.execute(
            "INSERT INTO models (terminal, version, path, window) VALUES (?1, 0, ?2, NULL)",
            params![req.id, ckpt.display().to_string()],
        )?;
        tx.commit()?;
        drop(st);
        self.notify();
        Ok(Registered {
            id: req.id.clone(),
            token,
            model_version: 0,
            next_upload,
            window_s: self.exp.windows.t_total_s,
            width: w,
            height: h,
        })
    }

    /// Stores one PNG frame of terminal `t` at stream time `time` (the raw header value).
    pub fn put_frame(&self, t: &TerminalRow, time: Option<&str>, png: &[u8]) -> Result<FrameAck> {
        let Some(time) = time else {
            return Err(ServeError::bad(
                "X-Frame-Time",
                "missing; the frame's stream time in seconds",
            ));
        };
        let time_s: f64 = time
            .trim()
            .parse()
            .ok()
            .filter(|x: &f64| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| {
                ServeError::bad(
                    "X-Frame-Time",
                    format!("`{}`: seconds, a finite number >= 0", time.escape_default()),
                )
            })?;
        let (w, h, _) =
            nestevo_data::decode_png(png).map_err(|e| ServeError::bad("body", e.to_string()))?;
        if (w, h) != (t.width, t.height) {
            return Err(ServeError::bad(
                "body",
                format!(
                    "a {w}x{h} PNG; terminal `{}`'s model takes {}x{} frames",
                    t.id, t.width, t.height
                ),
            ));
        }
        let folder = self.dir.join("frames").join(&t.id);
        std::fs::create_dir_all(&folder)
            .map_err(|e| nestevo_core::error::IoError::new(&folder, "create folder", e))?;
        let path = folder.join(format!("t{:016x}.png", time_s.to_bits()));
        // The store stays locked from the duplicate check to the insert, so that two uploads
        // of one stream time cannot both pass the check and overwrite each other's file.
        let st = self.store();
        let dup: Option<(i64, String)> = st
            .conn
            .query_row(
                "SELECT id, path FROM frames WHERE terminal = ?1 AND time_s = ?2",
                params![t.id, time_s],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let pending = st.pending_frames(&t.id)?;
        if let Some((id, stored)) = dup {
            // A retry of the same frame is acknowledged again; a different frame at a time
            // already taken is refused, since acknowledging it would lose it.
            let old = std::fs::read(&stored).map_err(|e| {
                nestevo_core::error::IoError::new(Path::new(&stored), "read stored frame", e)
            })?;
            if old != png {
                return Err(ServeError::Conflict(format!(
                    "X-Frame-Time `{}`: terminal `{}` already stored a different frame at \
                     {time_s} s (frame {id}); one frame per stream time",
                    time.escape_default(),
                    t.id
                )));
            }
            return Ok(FrameAck {
                frame_id: id,
                duplicate: true,
                pending,
            });
        }
        if pending >= self.cfg.max_pending_frames {
            return Err(ServeError::Busy {
                message: format!(
                    "terminal `{}` has {pending} frames waiting (bound {}); ask for an \
                     evolution first",
                    t.id, self.cfg.max_pending_frames
                ),
                retry_after_s: 5,
            });
        }
        write_durable(&path, png)?;
        let inserted = st.conn.execute(
            "INSERT INTO frames (terminal, time_s, path, bytes) VALUES (?1, ?2, ?3, ?4)",
            params![t.id, time_s, path.display().to_string(), png.len() as i64],
        )?;
        let id = st.conn.last_insert_rowid();
        self.metrics.frames_stored.inc();
        debug_assert_eq!(inserted, 1);
        Ok(FrameAck {
            frame_id: id,
            duplicate: false,
            pending: st.pending_frames(&t.id)?,
        })
    }

    fn status_of(&self, st: &Store, r: EvolutionRow) -> Result<EvolutionStatus> {
        let next_upload = st.terminal(&r.terminal)?.map_or(0, |t| t.next_upload);
        Ok(EvolutionStatus {
            request_id: r.id,
            terminal: r.terminal,
            window: r.window,
            state: r.state,
            decision: r.decision,
            action: r.action,
            version: r.version,
            reason: r.reason,
            frames: r.frames,
            runs: r.runs,
            next_upload,
        })
    }

    /// Queues terminal `t`'s evolution request for the open window; it takes the frames stored
    /// since its last request. With `key`, the same key returns the same request.
    pub fn request_evolution(&self, t: &TerminalRow, key: Option<&str>) -> Result<EvolutionStatus> {
        if let Some(k) = key {
            if k.is_empty() || k.len() > 128 || !k.chars().all(|c| c.is_ascii_graphic()) {
                return Err(ServeError::bad(
                    "Idempotency-Key",
                    "1 to 128 printable ASCII characters",
                ));
            }
        }
        let mut st = self.store();
        if let Some(k) = key {
            let known: Option<i64> = st
                .conn
                .query_row(
                    "SELECT request FROM idempotency WHERE terminal = ?1 AND key = ?2",
                    params![t.id, k],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = known {
                let r = st
                    .evolution(id)?
                    .expect("an idempotency key names a request");
                return self.status_of(&st, r);
            }
        }
        let depth = st.queue_depth()?;
        if depth >= self.cfg.queue_bound {
            return Err(ServeError::Busy {
                message: format!(
                    "{depth} evolution requests are queued or running (bound {})",
                    self.cfg.queue_bound
                ),
                retry_after_s: 10,
            });
        }
        let w = st.open_window()?;
        let tx = st.conn.transaction()?;
        let existing: Option<i64> = tx
            .query_row(
                "SELECT id FROM evolutions WHERE terminal = ?1 AND window = ?2",
                params![t.id, w as i64],
                |r| r.get(0),
            )
            .optional()?;
        let id = match existing {
            Some(id) => id,
            None => {
                tx.execute(
                    "INSERT INTO evolutions (terminal, window, state, created)
                     VALUES (?1, ?2, 'queued', ?3)",
                    params![t.id, w as i64, now_s()],
                )?;
                tx.last_insert_rowid()
            }
        };
        tx.execute(
            "UPDATE frames SET window = ?2 WHERE terminal = ?1 AND window IS NULL",
            params![t.id, w as i64],
        )?;
        tx.execute(
            "UPDATE evolutions SET frames =
               (SELECT COUNT(*) FROM frames WHERE terminal = ?1 AND window = ?2) WHERE id = ?3",
            params![t.id, w as i64, id],
        )?;
        if let Some(k) = key {
            tx.execute(
                "INSERT INTO idempotency (terminal, key, request) VALUES (?1, ?2, ?3)",
                params![t.id, k, id],
            )?;
        }
        tx.commit()?;
        self.metrics.queue_depth.set(st.queue_depth()? as i64);
        let r = st.evolution(id)?.expect("just written");
        let s = self.status_of(&st, r)?;
        drop(st);
        self.notify();
        Ok(s)
    }

    /// A request's status, for its own terminal only.
    pub fn evolution(&self, bearer: Option<&str>, request: &str) -> Result<EvolutionStatus> {
        let who = self.authenticate(bearer)?;
        let st = self.store();
        let r = request
            .parse::<i64>()
            .ok()
            .map(|id| st.evolution(id))
            .transpose()?
            .flatten()
            .ok_or_else(|| {
                ServeError::NotFound(format!(
                    "evolution request `{}`: unknown",
                    request.escape_default()
                ))
            })?;
        if r.terminal != who {
            return Err(ServeError::Forbidden(format!(
                "header `Authorization`: request {} belongs to another terminal",
                r.id
            )));
        }
        self.status_of(&st, r)
    }

    /// Terminal `t`'s current model: (version, checkpoint path).
    pub fn model(&self, t: &TerminalRow) -> Result<(u64, PathBuf)> {
        let p = self.store().model_path(&t.id, t.version)?.ok_or_else(|| {
            ServeError::Fault(format!(
                "terminal `{}`: no checkpoint of version {}",
                t.id, t.version
            ))
        })?;
        Ok((t.version, PathBuf::from(p)))
    }

    /// Terminal `t`'s current model version and its checkpoint's bytes; no bytes where
    /// `held(version)` says the terminal has that version already.
    pub fn model_bytes(
        &self,
        t: &TerminalRow,
        held: impl FnOnce(u64) -> bool,
    ) -> Result<(u64, Option<Vec<u8>>)> {
        let (v, path) = self.model(t)?;
        if held(v) {
            return Ok((v, None));
        }
        let b = std::fs::read(&path)
            .map_err(|e| nestevo_core::error::IoError::new(&path, "read", e))?;
        Ok((v, Some(b)))
    }

    /// The queue's depth, the frames stored and the terminals registered, read under one lock.
    pub fn counts(&self) -> Result<Counts> {
        let st = self.store();
        Ok(Counts {
            queue_depth: st.queue_depth()?,
            frames_stored: st.frames_stored()?,
            terminals: st.terminals()?.len(),
        })
    }

    // ---- the worker's side ----

    /// Requests that were running when the server stopped go back to the queue.
    pub fn requeue_running(&self) -> Result<usize> {
        let st = self.store();
        let n = st.conn.execute(
            "UPDATE evolutions SET state = 'queued' WHERE state = 'running'",
            [],
        )?;
        Ok(n)
    }

    /// The oldest queued window that is ready (every registered terminal asked, the first
    /// request waited `window_timeout_s`, or the window is already closed), its requests
    /// marked running and the open window moved past it.
    pub fn take_ready_window(&self) -> Result<Option<(usize, Vec<EvolutionRow>)>> {
        let mut st = self.store();
        let queued = st.evolutions_in("queued")?;
        let Some(first) = queued.first() else {
            return Ok(None);
        };
        let w = first.window;
        let of_w: Vec<EvolutionRow> = queued.into_iter().filter(|r| r.window == w).collect();
        let open = st.open_window()?;
        let terminals = st.terminals()?.len();
        let oldest = of_w.iter().map(|r| r.created).fold(f64::INFINITY, f64::min);
        let ready =
            w < open || of_w.len() >= terminals || now_s() - oldest >= self.cfg.window_timeout_s;
        if !ready {
            return Ok(None);
        }
        let tx = st.conn.transaction()?;
        for r in &of_w {
            tx.execute(
                "UPDATE evolutions SET state = 'running', runs = runs + 1 WHERE id = ?1",
                [r.id],
            )?;
        }
        if w >= open {
            tx.execute(
                "UPDATE meta SET value = ?1 WHERE key = 'open_window'",
                [(w + 1).to_string()],
            )?;
        }
        tx.commit()?;
        let rows = of_w
            .iter()
            .map(|r| st.evolution(r.id).map(|x| x.expect("exists")))
            .collect::<Result<Vec<_>>>()?;
        Ok(Some((w, rows)))
    }

    /// Records a finished window: new model versions, each request done with the decision,
    /// the next upload counts; one transaction.
    pub fn finish_window(
        &self,
        decision: &str,
        results: &[TerminalResult],
        plan: &[(String, usize)],
        window: usize,
        global: Option<(PathBuf, usize)>,
    ) -> Result<()> {
        let mut st = self.store();
        let tx = st.conn.transaction()?;
        let now = now_s();
        for r in results {
            let mut version: i64 = tx.query_row(
                "SELECT version FROM terminals WHERE id = ?1",
                [&r.terminal],
                |x| x.get(0),
            )?;
            if let Some(p) = &r.checkpoint {
                version += 1;
                tx.execute(
                    "INSERT OR REPLACE INTO models (terminal, version, path, window)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![r.terminal, version, p.display().to_string(), window as i64],
                )?;
                tx.execute(
                    "UPDATE terminals SET version = ?2 WHERE id = ?1",
                    params![r.terminal, version],
                )?;
            }
            if let Some(d) = r.delta {
                tx.execute(
                    "UPDATE terminals SET delta = ?2 WHERE id = ?1",
                    params![r.terminal, d],
                )?;
            }
            tx.execute(
                "UPDATE evolutions SET state = 'done', decision = ?2, action = ?3, version = ?4,
                 finished = ?5, reason = NULL WHERE id = ?1",
                params![r.request, decision, r.action, version, now],
            )?;
            let created: f64 = tx.query_row(
                "SELECT created FROM evolutions WHERE id = ?1",
                [r.request],
                |x| x.get(0),
            )?;
            self.metrics.evolution_seconds.observe(now - created);
        }
        for (id, n) in plan {
            tx.execute(
                "UPDATE terminals SET next_upload = ?2 WHERE id = ?1",
                params![id, *n as i64],
            )?;
        }
        if let Some((p, v)) = global {
            for (k, val) in [
                ("global_path", p.display().to_string()),
                ("global_version", v.to_string()),
            ] {
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    params![k, val],
                )?;
            }
        }
        tx.commit()?;
        self.metrics.queue_depth.set(st.queue_depth()? as i64);
        Ok(())
    }

    pub fn fail_requests(&self, ids: &[i64], reason: &str) -> Result<()> {
        let st = self.store();
        let now = now_s();
        for id in ids {
            st.conn.execute(
                "UPDATE evolutions SET state = 'failed', reason = ?2, finished = ?3 WHERE id = ?1",
                params![id, reason, now],
            )?;
            if let Some(created) = st.evolution(*id)?.map(|r| r.created) {
                self.metrics.evolution_seconds.observe(now - created);
            }
        }
        self.metrics.queue_depth.set(st.queue_depth()? as i64);
        Ok(())
    }

    /// Waits until a request arrives or `timeout` passes.
    pub fn wait_for_work(&self, timeout: std::time::Duration) {
        let g = self.wake.0.lock().unwrap_or_else(|p| p.into_inner());
        let (mut g, _) = self
            .wake
            .1
            .wait_timeout_while(g, timeout, |woken| !*woken)
            .unwrap_or_else(|p| p.into_inner());
        *g = false;
    }
}
