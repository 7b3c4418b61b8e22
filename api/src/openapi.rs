//! The OpenAPI 3 document, generated from the handlers' annotations, and the docs page (Swagger UI,
//! served from the binary: plant networks often cannot reach a CDN).

use actix_web::web;
use utoipa::Modify;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, SecurityRequirement};
use utoipa_swagger_ui::SwaggerUi;

pub const DOCUMENT_PATH: &str = "/api/v1/openapi.json";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "MS5 Floor", description = "Event-sourced manufacturing floor backend: commands, history, accounts."),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, document: &mut OpenApi) {
        let components = document.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
        document.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
    }
}

pub fn serve(config: &mut web::ServiceConfig, document: OpenApi) {
    config.service(SwaggerUi::new("/api/v1/docs/{_:.*}").url(DOCUMENT_PATH, document));
}
