//! The error model every endpoint shares: a status and a JSON body `{code, message, details}` whose
//! `code` is stable (clients branch on it) and whose `message` is for people.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use commands::{CommandError, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable: `invalid_body`, `forbidden`, `version_conflict`, or the domain rule broken.
    pub code: String,
    pub message: String,
    pub details: ErrorDetails,
}

/// More about an error, where there is more to say; `{}` when none. Each field appears only with the
/// error codes named on it.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ErrorDetails {
    /// `invalid_body`: where in the body the invalid value is (`items[2].good`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `version_conflict`: the version the request expected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<u64>,
    /// `version_conflict`: the record's version now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
    /// `integrity_alarm`: the record whose stored history is not what the service appended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aggregate_type: Option<String>,
    /// `integrity_alarm`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aggregate_id: Option<String>,
    /// `integrity_alarm`: the first sequence number found wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    /// `integrity_alarm`: what is wrong (`chain_broken`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    /// Boxed: most errors have none, and every `Result<_, ApiError>` carries the size of this.
    pub details: Option<Box<ErrorDetails>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { status, code: code.into(), message: message.into(), details: None }
    }
    pub fn with_details(mut self, details: ErrorDetails) -> Self {
        self.details = Some(Box::new(details));
        self
    }
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unauthorized(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }
    pub fn forbidden(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} {id} does not exist"))
    }
    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
    pub fn unprocessable(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }
    /// A business rule refused the request; the code is the rule's own (`domain::Rule`).
    pub fn rule(error: &(impl std::error::Error + domain::Rule)) -> Self {
        Self::unprocessable(error.code(), error.to_string())
    }
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code.clone(),
            message: self.message.clone(),
            details: self.details.as_deref().cloned().unwrap_or_default(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }
    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(self.body())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict { current_version } => Self::conflict(
                "version_conflict",
                format!("another command changed the record first; it is at version {current_version}"),
            )
            .with_details(ErrorDetails { current_version: Some(current_version), ..ErrorDetails::default() }),
            StoreError::IdempotencyKeyUsed => Self::conflict(
                "idempotency_key_used",
                "another request with this Idempotency-Key was applied first; nothing was written",
            ),
            StoreError::Integrity(alarm) => integrity_alarm(&alarm),
            StoreError::Database(error) => database(error),
            // A record written by a newer release during a rollout: this instance cannot read it yet.
            StoreError::Version(error) => {
                Self::new(actix_web::http::StatusCode::SERVICE_UNAVAILABLE, "newer_event_version", error.to_string())
            }
            other => internal(&other),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        database(error)
    }
}

/// The database could not be reached or is shutting down: worth a retry. Anything else is our bug.
fn database(error: sqlx::Error) -> ApiError {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
            tracing::warn!(%error, "database unavailable");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable", "the database is unavailable")
        }
        // Class 22, data exception: a value PostgreSQL cannot store (a NUL character in text) that got
        // past parsing. The request is at fault, and nothing was written.
        sqlx::Error::Database(ref db) if db.code().is_some_and(|code| code.starts_with("22")) => {
            ApiError::bad_request("invalid_value", "the request holds a value that cannot be stored")
        }
        sqlx::Error::Database(ref db) if db.code().is_some_and(|code| code.starts_with("57P") || code == "53300") => {
            tracing::warn!(%error, "database unavailable");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable", "the database is unavailable")
        }
        other => internal(&other),
    }
}

/// A record whose stream is not what the service appended: never answered as a generic failure. The
/// log line is the security alert (`security_alert = true`); the metric counts alarms by kind.
fn integrity_alarm(alarm: &commands::error::IntegrityAlarm) -> ApiError {
    let kind = alarm.kind.code();
    tracing::error!(
        security_alert = true,
        aggregate_type = %alarm.aggregate_type,
        aggregate_id = %alarm.aggregate_id,
        sequence = alarm.sequence,
        kind,
        "integrity alarm: {alarm}"
    );
    metrics::counter!("integrity_alarms_total", "kind" => kind).increment(1);
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "integrity_alarm",
        format!(
            "the history of {} {} is not what the service recorded; it was reported for investigation",
            alarm.aggregate_type, alarm.aggregate_id
        ),
    )
    .with_details(ErrorDetails {
        aggregate_type: Some(alarm.aggregate_type.clone()),
        aggregate_id: Some(alarm.aggregate_id.clone()),
        sequence: Some(alarm.sequence),
        kind: Some(kind.to_owned()),
        ..ErrorDetails::default()
    })
}

pub fn internal(error: &dyn std::error::Error) -> ApiError {
    tracing::error!(%error, "internal error");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "the request failed; see the service log")
}

impl<E: std::error::Error + domain::Rule> From<CommandError<E>> for ApiError {
    fn from(error: CommandError<E>) -> Self {
        match error {
            CommandError::Rejected(refusal) => Self::rule(&refusal),
            CommandError::Conflict { expected, current_version } => Self::conflict(
                "version_conflict",
                format!("expected version {expected}, but the record is at version {current_version}"),
            )
            .with_details(ErrorDetails {
                expected_version: Some(expected),
                current_version: Some(current_version),
                ..ErrorDetails::default()
            }),
            CommandError::Contended => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "contended", "too many concurrent writers; retry")
            }
            CommandError::Store(error) => error.into(),
        }
    }
}

impl<E: std::error::Error + domain::Rule> From<commands::lookups::LookupError<E>> for ApiError {
    fn from(error: commands::lookups::LookupError<E>) -> Self {
        use commands::lookups::LookupError;
        match error {
            LookupError::Command(error) => error.into(),
            LookupError::Line(error) => error.into(),
            LookupError::UnknownTemplate(_) => Self::unprocessable("unknown_template", error.to_string()),
            LookupError::UnknownEquipment(_) => Self::unprocessable("unknown_equipment", error.to_string()),
        }
    }
}

impl From<projections::rebuilds::RebuildError> for ApiError {
    fn from(error: projections::rebuilds::RebuildError) -> Self {
        use projections::rebuilds::RebuildError;
        match error {
            RebuildError::Running(_) => Self::conflict("rebuild_running", error.to_string()),
            RebuildError::Record(error) => error.into(),
            RebuildError::Database(error) | RebuildError::Projection(projections::ProjectionError::Database(error)) => {
                error.into()
            }
            RebuildError::Projection(other) => internal(&other),
        }
    }
}
