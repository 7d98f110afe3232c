//! Terminals: `POST /v1/terminals` registers one (admin token) and answers its own token.

use super::common::{bearer, blocking, body_bytes, App, ErrorBody};
use crate::error::ServeError;
use crate::service::{RegisterRequest, Registered};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

pub fn router() -> Router<App> {
    Router::new().route("/v1/terminals", post(register))
}

#[utoipa::path(
    post, path = "/v1/terminals", tag = "terminals",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered; the token is shown only here", body = Registered),
        (status = 400, description = "A field is wrong", body = ErrorBody),
        (status = 401, description = "No admin token, or a wrong one", body = ErrorBody),
        (status = 409, description = "The id is taken", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn register(
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ServeError> {
    let body = body_bytes(body, app.svc.cfg.max_body_bytes)?;
    let req: RegisterRequest = serde_json::from_slice(&body).map_err(|e| {
        ServeError::bad(
            "body",
            format!("not a registration (JSON id, model, stream): {e}"),
        )
    })?;
    let svc = app.svc.clone();
    let r = blocking(move || svc.register(bearer(&headers).as_deref(), &req)).await?;
    Ok((StatusCode::CREATED, Json(r)).into_response())
}
