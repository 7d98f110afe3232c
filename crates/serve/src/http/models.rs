//! Models: `GET /v1/terminals/{id}/model` answers a terminal's current checkpoint, its version
//! as the ETag, or 304 where `If-None-Match` names the version held.

use super::common::{bearer, blocking, header_str, App, ErrorBody};
use crate::error::ServeError;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// A checkpoint (safetensors).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ModelBody(pub Vec<u8>);

pub fn router() -> Router<App> {
    Router::new().route("/v1/terminals/{id}/model", get(get_model))
}

#[utoipa::path(
    get, path = "/v1/terminals/{id}/model", tag = "terminals",
    params(
        ("id" = String, Path, description = "The terminal's id"),
        ("If-None-Match" = Option<String>, Header, description = "The ETag of the model held"),
    ),
    responses(
        (status = 200, description = "The current checkpoint; ETag is its version", body = ModelBody,
            content_type = "application/octet-stream"),
        (status = 304, description = "The held version is current"),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 403, description = "Another terminal's token", body = ErrorBody),
        (status = 404, description = "Unknown terminal", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_model(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ServeError> {
    let svc = app.svc.clone();
    let token = bearer(&headers);
    let held = header_str(&headers, "if-none-match");
    let (version, bytes) = blocking(move || {
        let t = svc.authorize(token.as_deref(), &id)?;
        svc.model_bytes(&t, |v| {
            let tag = etag(v);
            held.as_deref()
                .is_some_and(|h| h.split(',').any(|x| x.trim() == tag))
        })
    })
    .await?;
    let tag = HeaderValue::from_str(&etag(version)).expect("ASCII");
    Ok(match bytes {
        None => (StatusCode::NOT_MODIFIED, [(header::ETAG, tag)]).into_response(),
        Some(b) => (
            StatusCode::OK,
            [
                (header::ETAG, tag),
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                ),
            ],
            b,
        )
            .into_response(),
    })
}

/// The ETag of model version `v`.
pub fn etag(v: u64) -> String {
    format!("\"v{v}\"")
}
