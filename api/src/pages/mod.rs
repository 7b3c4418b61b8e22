//! The floor's web pages (docs/dashboard.md): server-rendered shells, our stylesheet and script, all
//! embedded in the binary and served from the API's origin. Every figure a page shows comes from the
//! public API (`/api/v1`, in OpenAPI), which the script calls with the session's bearer token, so the
//! pages can show nothing the API would not answer to the same principal. No page is in the OpenAPI
//! document: they are not an API. A path that names no line, area or shift is answered like the API's
//! (400 `invalid_path`).

use actix_web::http::header::{self, ContentType};
use actix_web::{HttpResponse, web};
use askama::Template;
use domain::shift_report::ShiftKey;

use crate::error::ApiError;
use crate::query_call::LinePath;
use crate::routes::live::AreaPath;
use crate::routes::shifts::ShiftPath;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/", web::get().to(overview))
        .route("/sign-in", web::get().to(sign_in))
        .route("/audit-trail", web::get().to(audit_trail))
        .route("/andon/{site}/{area}", web::get().to(andon))
        .route("/lines/{site}/{area}/{line}/board", web::get().to(board))
        .route("/lines/{site}/{area}/{line}/tablet", web::get().to(tablet))
        .route("/lines/{site}/{area}/{line}/shifts/{date}/{shift}", web::get().to(shift))
        .route("/assets/app.css", web::get().to(|| asset(STYLESHEET, "text/css; charset=utf-8")))
        .route("/assets/app.js", web::get().to(|| asset(SCRIPT, "text/javascript; charset=utf-8")));
}

const STYLESHEET: &str = include_str!("../../assets/app.css");
const SCRIPT: &str = include_str!("../../assets/app.js");

/// Scripts and styles from this origin only, no framing: a page can run nothing it did not ship with.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

async fn asset(body: &'static str, content_type: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// One page: its script entry (`data-page`) and the values the script needs, as data attributes.
#[derive(Debug, Template)]
#[template(path = "pages/page.html")]
struct Page {
    title: String,
    page: &'static str,
    /// A kiosk page has no navigation and large type.
    kiosk: bool,
    data: Vec<(&'static str, String)>,
}

fn render(page: Page) -> Result<HttpResponse, ApiError> {
    let html = page.render().map_err(|error| crate::error::internal(&error))?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::html())
        .insert_header(("content-security-policy", CONTENT_SECURITY_POLICY))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html))
}

fn page(title: &str, page: &'static str, data: Vec<(&'static str, String)>) -> Result<HttpResponse, ApiError> {
    render(Page { title: title.to_owned(), page, kiosk: false, data })
}

async fn overview() -> Result<HttpResponse, ApiError> {
    page("Plant overview", "overview", Vec::new())
}

async fn sign_in() -> Result<HttpResponse, ApiError> {
    page("Sign in", "sign-in", Vec::new())
}

async fn audit_trail() -> Result<HttpResponse, ApiError> {
    page("Audit trail", "audit-trail", Vec::new())
}

async fn andon(path: web::Path<AreaPath>) -> Result<HttpResponse, ApiError> {
    let AreaPath { site, area } = path.into_inner();
    page(&format!("Andon {site}/{area}"), "andon", vec![("site", site.to_string()), ("area", area.to_string())])
}

async fn board(path: web::Path<LinePath>) -> Result<HttpResponse, ApiError> {
    let line = path.parse()?;
    render(Page { title: line.to_string(), page: "board", kiosk: true, data: vec![("line", line.to_string())] })
}

async fn tablet(path: web::Path<LinePath>) -> Result<HttpResponse, ApiError> {
    let line = path.parse()?;
    page(&format!("Tablet {line}"), "tablet", vec![("line", line.to_string())])
}

async fn shift(path: web::Path<ShiftPath>) -> Result<HttpResponse, ApiError> {
    let ShiftKey { line, date, shift } = path.key()?;
    let data = vec![("line", line.to_string()), ("date", date.to_string()), ("shift", shift.as_str().to_owned())];
    page(&format!("Shift {date} {} {line}", shift.as_str()), "shift", data)
}
