//! Frames: `POST /v1/terminals/{id}/frames` stores one PNG frame of a terminal, durably.

use super::common::{bearer, blocking, body_bytes, header_str, App, ErrorBody};
use crate::error::ServeError;
use crate::service::FrameAck;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

/// A PNG frame.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct PngBody(pub Vec<u8>);

pub fn router() -> Router<App> {
    Router::new().route("/v1/terminals/{id}/frames", post(post_frame))
}

#[utoipa::path(
    post, path = "/v1/terminals/{id}/frames", tag = "terminals",
    params(
        ("id" = String, Path, description = "The terminal's id"),
        ("X-Frame-Time" = f64, Header, description = "The frame's stream time, seconds"),
    ),
    request_body(content = PngBody, content_type = "image/png",
        description = "One PNG frame of the terminal model's input size"),
    responses(
        (status = 202, description = "Stored durably (or the same frame again: `duplicate`)", body = FrameAck),
        (status = 400, description = "Corrupt or wrongly sized PNG, or a bad header", body = ErrorBody),
        (status = 401, description = "No token, or an unknown one", body = ErrorBody),
        (status = 403, description = "Another terminal's token", body = ErrorBody),
        (status = 404, description = "Unknown terminal", body = ErrorBody),
        (status = 409, description = "A different frame is already stored at this stream time", body = ErrorBody),
        (status = 413, description = "Body over the limit", body = ErrorBody),
        (status = 503, description = "Too many frames waiting; see Retry-After", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn post_frame(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ServeError> {
    let svc = app.svc.clone();
    let token = bearer(&headers);
    let t = {
        let (svc, id) = (svc.clone(), id.clone());
        let token = token.clone();
        blocking(move || svc.authorize(token.as_deref(), &id)).await?
    };
    let body = body_bytes(body, svc.cfg.max_body_bytes)?;
    match header_str(&headers, "content-type") {
        Some(c) if c.trim().eq_ignore_ascii_case("image/png") => {}
        other => {
            return Err(ServeError::bad(
                "Content-Type",
                format!("`{}`: must be image/png", other.unwrap_or_default()),
            ))
        }
    }
    let time = header_str(&headers, "x-frame-time");
    let ack = blocking(move || svc.put_frame(&t, time.as_deref(), &body)).await?;
    Ok((StatusCode::ACCEPTED, Json(ack)).into_response())
}
