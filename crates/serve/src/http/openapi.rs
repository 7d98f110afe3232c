//! The API's description: `GET /openapi.json` answers the OpenAPI 3 document that utoipa builds
//! from the handlers' annotations. A documented route is listed in `ApiDoc` here.

use super::common::{App, ErrorBody};
use super::frames::PngBody;
use super::health::Health;
use super::models::ModelBody;
use super::{evolutions, frames, health, metrics, models, terminals};
use crate::service::{EvolutionStatus, FrameAck, RegisterRequest, Registered};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

pub fn router() -> Router<App> {
    Router::new().route("/openapi.json", get(openapi_json))
}

#[utoipa::path(
    get, path = "/openapi.json", tag = "service",
    responses((status = 200, description = "This document (OpenAPI 3)"))
)]
pub async fn openapi_json() -> Response {
    Json(ApiDoc::openapi()).into_response()
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, o: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let c = o.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "NestEvo edge server",
        description = "Terminals upload frames and fetch their evolved models."
    ),
    paths(
        terminals::register,
        frames::post_frame,
        evolutions::post_evolution,
        evolutions::get_evolution,
        models::get_model,
        health::healthz,
        metrics::metrics,
        openapi_json
    ),
    components(schemas(RegisterRequest, Registered, FrameAck, EvolutionStatus, ErrorBody, Health, PngBody, ModelBody)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// The OpenAPI document as JSON text.
pub fn openapi_text() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the document serialises")
}
