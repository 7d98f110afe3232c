//! Health: `GET /healthz` answers that the server is up, its memory and its queue.

use super::common::{blocking, App};
use crate::error::ServeError;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Health {
    pub status: String,
    pub pid: u32,
    /// The server's resident memory (VmRSS) and its peak (VmHWM), bytes.
    pub rss_bytes: u64,
    pub peak_rss_bytes: u64,
    pub queue_depth: usize,
    pub frames_stored: u64,
    pub terminals: usize,
}

pub fn router() -> Router<App> {
    Router::new().route("/healthz", get(healthz))
}

/// A field of /proc/self/status in kB, 0 where there is none (not Linux).
fn proc_status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[utoipa::path(
    get, path = "/healthz", tag = "service",
    responses((status = 200, description = "Up; its memory and queue", body = Health))
)]
pub async fn healthz(State(app): State<App>) -> Result<Response, ServeError> {
    let svc = app.svc.clone();
    let h = blocking(move || {
        let c = svc.counts()?;
        Ok(Health {
            status: "ok".into(),
            pid: std::process::id(),
            rss_bytes: proc_status_kb("VmRSS:") * 1024,
            peak_rss_bytes: proc_status_kb("VmHWM:") * 1024,
            queue_depth: c.queue_depth,
            frames_stored: c.frames_stored,
            terminals: c.terminals,
        })
    })
    .await?;
    Ok(Json(h).into_response())
}
