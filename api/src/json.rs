//! The JSON body extractor: checks the content type and size before reading, reports the path of an
//! invalid field, and keeps a digest of the raw body for idempotency checks.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ErrorDetails};
use crate::state::AppState;

/// A parsed JSON body. An empty body reads as `{}`, so commands without fields need none.
#[derive(Debug)]
pub struct Json<T> {
    pub value: T,
    pub digest: [u8; 32],
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = request.app_data::<web::Data<AppState>>().map_or(64 * 1024, |app| app.settings.max_body_bytes);
        let content_type = request.headers().get(header::CONTENT_TYPE).map(|value| value.to_str().unwrap_or("?"));
        let is_json = content_type.map(|value| {
            let essence = value.split(';').next().unwrap_or_default().trim();
            essence.eq_ignore_ascii_case("application/json")
        });
        let declared_length = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if declared_length.is_some_and(|length| length > limit) {
                return Err(too_large(limit));
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|error| ApiError::bad_request("unreadable_body", error.to_string()))?;
                if body.len() + chunk.len() > limit {
                    return Err(too_large(limit));
                }
                body.extend_from_slice(&chunk);
            }
            if !body.is_empty() && is_json != Some(true) {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "the body must be JSON with Content-Type: application/json",
                ));
            }
            let digest = Sha256::digest(&body).into();
            let text: &[u8] = if body.is_empty() { b"{}" } else { &body };
            // serde would also read a struct from an array of its fields in order; we take objects only.
            if !text.trim_ascii_start().starts_with(b"{") {
                return Err(ApiError::bad_request("invalid_body", "the body must be a JSON object"));
            }
            let mut deserializer = serde_json::Deserializer::from_slice(text);
            let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
                let path = error.path().to_string();
                ApiError::bad_request("invalid_body", format!("{path}: {}", error.inner()))
                    .with_details(ErrorDetails { path: Some(path), ..ErrorDetails::default() })
            })?;
            deserializer.end().map_err(|error| ApiError::bad_request("invalid_body", error.to_string()))?;
            Ok(Self { value, digest })
        })
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", format!("the body is larger than {limit} bytes"))
}
