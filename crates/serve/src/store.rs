//! The durable state: one SQLite database in WAL mode with `synchronous = FULL`, so a
//! committed transaction survives a crash of the process (and of the machine). Frames and
//! checkpoints live as files beside it (written atomically before the row that names them is
//! committed); a row is the acknowledgement, a file without a row is garbage.
//!
//! Windows are the server's: `open_window` in `meta` is the window new evolution requests join;
//! the worker closes it (moves it on) when it starts the window's run.

use super::error::{Result, ServeError};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS terminals (
    id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, model TEXT NOT NULL,
    stream TEXT NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 0, next_upload INTEGER NOT NULL, delta REAL,
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS frames (
    id INTEGER PRIMARY KEY AUTOINCREMENT, terminal TEXT NOT NULL, time_s REAL NOT NULL,
    path TEXT NOT NULL, bytes INTEGER NOT NULL, window INTEGER, UNIQUE (terminal, time_s));
CREATE TABLE IF NOT EXISTS evolutions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, terminal TEXT NOT NULL, window INTEGER NOT NULL,
    state TEXT NOT NULL, decision TEXT, action TEXT, version INTEGER, reason TEXT,
    frames INTEGER NOT NULL DEFAULT 0, runs INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL, finished REAL, UNIQUE (terminal, window));
CREATE TABLE IF NOT EXISTS idempotency (
    terminal TEXT NOT NULL, key TEXT NOT NULL, request INTEGER NOT NULL,
    PRIMARY KEY (terminal, key));
CREATE TABLE IF NOT EXISTS models (
    terminal TEXT NOT NULL, version INTEGER NOT NULL, path TEXT NOT NULL, window INTEGER,
    PRIMARY KEY (terminal, version));
";

pub struct Store {
    pub conn: Connection,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TerminalRow {
    pub id: String,
    pub model: String,
    pub stream: String,
    pub width: usize,
    pub height: usize,
    pub version: u64,
    pub next_upload: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EvolutionRow {
    pub id: i64,
    pub terminal: String,
    pub window: usize,
    pub state: String,
    pub decision: Option<String>,
    pub action: Option<String>,
    pub version: Option<u64>,
    pub reason: Option<String>,
    pub frames: usize,
    pub runs: u32,
    pub created: f64,
}

pub fn now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

const EVOLUTION_COLS: &str =
    "id, terminal, window, state, decision, action, version, reason, frames, runs, created";

fn evolution_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EvolutionRow> {
    Ok(EvolutionRow {
        id: r.get(0)?,
        terminal: r.get(1)?,
        window: r.get::<_, i64>(2)? as usize,
        state: r.get(3)?,
        decision: r.get(4)?,
        action: r.get(5)?,
        version: r.get::<_, Option<i64>>(6)?.map(|v| v as u64),
        reason: r.get(7)?,
        frames: r.get::<_, i64>(8)? as usize,
        runs: r.get::<_, i64>(9)? as u32,
        created: r.get(10)?,
    })
}

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        // Errors here name the file: a damaged or foreign file is the operator's to move.
        let named = |e: rusqlite::Error| {
            ServeError::Fault(format!("state database {}: {e}", path.display()))
        };
        let conn = Connection::open(path).map_err(named)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(named)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(named)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(named)?;
        conn.execute_batch(SCHEMA).map_err(named)?;
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('open_window', '0')",
            [],
        )
        .map_err(named)?;
        Ok(Store { conn })
    }

    pub fn journal_mode(&self) -> Result<String> {
        Ok(self
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))?)
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    pub fn open_window(&self) -> Result<usize> {
        Ok(self
            .meta("open_window")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    pub fn terminals(&self) -> Result<Vec<TerminalRow>> {
        let mut st = self.conn.prepare(
            "SELECT id, model, stream, width, height, version, next_upload FROM terminals
             ORDER BY created, id",
        )?;
        let rows = st.query_map([], |r| {
            Ok(TerminalRow {
                id: r.get(0)?,
                model: r.get(1)?,
                stream: r.get(2)?,
                width: r.get::<_, i64>(3)? as usize,
                height: r.get::<_, i64>(4)? as usize,
                version: r.get::<_, i64>(5)? as u64,
                next_upload: r.get::<_, i64>(6)? as usize,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn terminal(&self, id: &str) -> Result<Option<TerminalRow>> {
        Ok(self.terminals()?.into_iter().find(|t| t.id == id))
    }

    /// The terminal whose token hashes to `hash`.
    pub fn terminal_of_token(&self, hash: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id FROM terminals WHERE token_hash = ?1",
                [hash],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn evolution(&self, id: i64) -> Result<Option<EvolutionRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {EVOLUTION_COLS} FROM evolutions WHERE id = ?1"),
                [id],
                evolution_row,
            )
            .optional()?)
    }

    /// Requests in `state`, oldest first.
    pub fn evolutions_in(&self, state: &str) -> Result<Vec<EvolutionRow>> {
        let mut st = self.conn.prepare(&format!(
            "SELECT {EVOLUTION_COLS} FROM evolutions WHERE state = ?1 ORDER BY window, id"
        ))?;
        let rows = st.query_map([state], evolution_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Requests queued or running.
    pub fn queue_depth(&self) -> Result<usize> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM evolutions WHERE state IN ('queued', 'running')",
            [],
            |r| r.get::<_, i64>(0),
        )? as usize)
    }

    pub fn frames_stored(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM frames", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    pub fn pending_frames(&self, terminal: &str) -> Result<usize> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM frames WHERE terminal = ?1 AND window IS NULL",
            [terminal],
            |r| r.get::<_, i64>(0),
        )? as usize)
    }

    /// Frames (id, time_s, path) a request took, in stream-time order.
    pub fn frames_of(&self, terminal: &str, window: usize) -> Result<Vec<(i64, f64, String)>> {
        let mut st = self.conn.prepare(
            "SELECT id, time_s, path FROM frames WHERE terminal = ?1 AND window = ?2
             ORDER BY time_s",
        )?;
        let rows = st.query_map(params![terminal, window as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every stored frame (id, terminal, time_s, path).
    pub fn all_frames(&self) -> Result<Vec<(i64, String, f64, String)>> {
        let mut st = self
            .conn
            .prepare("SELECT id, terminal, time_s, path FROM frames ORDER BY id")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// delta_i of the terminal's last evolved upload.
    pub fn last_delta(&self, terminal: &str) -> Result<Option<f64>> {
        Ok(self
            .conn
            .query_row(
                "SELECT delta FROM terminals WHERE id = ?1",
                [terminal],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    /// The committed global model after co-evolutions: (path, version).
    pub fn global(&self) -> Result<Option<(String, usize)>> {
        let p = self.meta("global_path")?;
        let v = self.meta("global_version")?.and_then(|v| v.parse().ok());
        Ok(p.zip(v))
    }

    /// The checkpoint of a terminal's model `version`.
    pub fn model_path(&self, terminal: &str, version: u64) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT path FROM models WHERE terminal = ?1 AND version = ?2",
                params![terminal, version as i64],
                |r| r.get(0),
            )
            .optional()?)
    }
}
