//! The HTTP face of the service (axum): one router per resource, each in its own file over the
//! state `App` (the `Service`, which knows nothing of HTTP), merged here under the layers they
//! share: the body limit, the request metrics and a 404 for any other path. The resources are
//! `terminals` (registration), `frames` (uploads), `evolutions` (requests and their status),
//! `models` (downloads), `health`, `metrics` and `openapi` (the document utoipa generates from
//! the handlers). A route is added in its resource's file and listed in `openapi::ApiDoc`; only
//! a new resource touches this file.
//!
//! Each handler parses the request, calls the `Service` on a blocking thread (SQLite, PNG
//! decoding and file reads and writes are blocking work) and maps its answer (`common`):
//! `BadField` 400, `Unauthorized` 401, `Forbidden` 403, `NotFound` 404, `Conflict` 409,
//! `TooLarge` 413, `Busy` 503 with `Retry-After`, faults 500. Every error body is
//! `{"error": MESSAGE, "field": FIELD}`.

mod common;
mod evolutions;
mod frames;
mod health;
mod metrics;
mod models;
mod openapi;
mod terminals;

pub use common::{App, ErrorBody};
pub use frames::PngBody;
pub use health::Health;
pub use models::{etag, ModelBody};
pub use openapi::{openapi_text, ApiDoc};

use crate::error::ServeError;
use crate::service::Service;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use http_body::Body as _;
use std::sync::Arc;

/// Counts requests by route and status, and bytes in and out.
async fn track(State(app): State<App>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let bytes_in = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let resp = next.run(req).await;
    let m = &app.svc.metrics;
    m.request(&route, resp.status().as_u16());
    m.bytes_in.inc_by(bytes_in);
    m.bytes_out
        .inc_by(resp.body().size_hint().exact().unwrap_or(0));
    resp
}

pub fn router(svc: Arc<Service>) -> Router {
    let limit = svc.cfg.max_body_bytes;
    let app = App { svc };
    Router::new()
        .merge(terminals::router())
        .merge(frames::router())
        .merge(evolutions::router())
        .merge(models::router())
        .merge(health::router())
        .merge(metrics::router())
        .merge(openapi::router())
        .fallback(|| async { ServeError::NotFound("no such route; see /openapi.json".into()) })
        // Layered after the merge so that every resource's routes get them.
        .layer(DefaultBodyLimit::max(limit))
        .route_layer(middleware::from_fn_with_state(app.clone(), track))
        .with_state(app)
}
