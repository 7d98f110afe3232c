//! Metrics: `GET /metrics` answers the service's counters in the Prometheus (OpenMetrics) text
//! format. Requests and bytes are counted as they pass, by `track` in `mod.rs`.

use super::common::App;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub fn router() -> Router<App> {
    Router::new().route("/metrics", get(metrics))
}

#[utoipa::path(
    get, path = "/metrics", tag = "service",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"))
)]
pub async fn metrics(State(app): State<App>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        app.svc.metrics.encode(),
    )
        .into_response()
}
