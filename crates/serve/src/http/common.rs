//! What every resource shares: the router's state, the error answer (a `ServeError` mapped to
//! its status and `{"error": MESSAGE, "field": FIELD}`) and the helpers that read a request.

use crate::error::ServeError;
use crate::service::Service;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The routers' state: the service alone, which knows nothing of HTTP.
#[derive(Clone)]
pub struct App {
    pub svc: Arc<Service>,
}

/// Every error answer.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: String,
    /// The request field at fault (a header, a path part, `body` or a JSON field).
    pub field: Option<String>,
}

impl IntoResponse for ServeError {
    fn into_response(self) -> Response {
        let status = match &self {
            ServeError::BadField { .. } | ServeError::Config(_) => StatusCode::BAD_REQUEST,
            ServeError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ServeError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServeError::NotFound(_) => StatusCode::NOT_FOUND,
            ServeError::Conflict(_) => StatusCode::CONFLICT,
            ServeError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ServeError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ServeError::Fault(_) | ServeError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = ErrorBody {
            error: self.to_string(),
            field: self.field().map(str::to_string),
        };
        let mut r = (status, Json(body)).into_response();
        if let ServeError::Busy { retry_after_s, .. } = self {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
        }
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

/// The token of `Authorization: Bearer TOKEN`; the service decides what a missing one means.
pub fn bearer(h: &HeaderMap) -> Option<String> {
    let v = h.get(header::AUTHORIZATION)?.to_str().ok()?;
    v.strip_prefix("Bearer ").map(|t| t.trim().to_string())
}

/// A header's raw value (lossy UTF-8), for the service to judge.
pub fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// The body, or the error naming it: over `limit` is 413, anything else unreadable 400.
pub fn body_bytes(b: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ServeError> {
    b.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ServeError::TooLarge {
                field: "body".into(),
                limit,
            }
        } else {
            ServeError::bad("body", format!("could not be read: {r}"))
        }
    })
}

/// Runs blocking service work off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ServeError> + Send + 'static,
) -> Result<T, ServeError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServeError::Fault(format!("worker thread: {e}")))?
}
