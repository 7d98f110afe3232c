//! Evolution requests: `POST /v1/terminals/{id}/evolutions` queues a terminal's request for the
//! open window; `GET /v1/evolutions/{request_id}` answers its status.

use super::common::{bearer, blocking, header_str, App, ErrorBody};
use crate::error::ServeError;
use crate::service::EvolutionStatus;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

pub fn router() -> Router<App> {
    Router::new()
        .route("/v1/terminals/{id}/evolutions", post(post_evolution))
        .route("/v1/evolutions/{request_id}", get(get_evolution))
}

#[utoipa::path(
    post, path = "/v1/terminals/{id}/evolutions", tag = "evolutions",
    params(
        ("id" = String, Path, description = "The terminal's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "The same key returns the same request"),
    ),
    responses(
        (status = 202, description = "Queued (or the request this key already made)", body = EvolutionStatus),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 403, description = "Another terminal's token", body = ErrorBody),
        (status = 404, description = "Unknown terminal", body = ErrorBody),
        (status = 503, description = "The queue is over its bound; see Retry-After", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn post_evolution(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ServeError> {
    let svc = app.svc.clone();
    let key = header_str(&headers, "idempotency-key");
    let token = bearer(&headers);
    let s = blocking(move || {
        let t = svc.authorize(token.as_deref(), &id)?;
        svc.request_evolution(&t, key.as_deref())
    })
    .await?;
    Ok((StatusCode::ACCEPTED, Json(s)).into_response())
}

#[utoipa::path(
    get, path = "/v1/evolutions/{request_id}", tag = "evolutions",
    params(("request_id" = i64, Path, description = "The id the request was answered with")),
    responses(
        (status = 200, description = "queued, running, done or failed", body = EvolutionStatus),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 403, description = "Another terminal's request", body = ErrorBody),
        (status = 404, description = "Unknown request", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_evolution(
    State(app): State<App>,
    Path(request_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ServeError> {
    let svc = app.svc.clone();
    let token = bearer(&headers);
    let s = blocking(move || svc.evolution(token.as_deref(), &request_id)).await?;
    Ok(Json(s).into_response())
}
