//! `Idempotency-Key`: a retry of a command gets the first answer and appends nothing; the same key with
//! a different request is refused.
//!
//! Nothing is ever "in progress". A command's append writes the key's record in the same statement as
//! its events (`commands::IdempotencyRecord`), so after a crash, a lost connection or a database restart
//! the key says "applied" exactly when the events exist, and a retry either gets that outcome or applies
//! the command for the first time. A request that appends nothing under the key (a refusal, a command
//! that changed nothing, a PLC batch whose items carry source sequences) records its answer afterwards.
//! Two requests with one key are arbitrated by the record's primary key: whichever writes first is the
//! answer, and the other gets it.

use actix_web::http::StatusCode;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::ApiError;

pub const MAX_KEY_LENGTH: usize = 200;

/// A key's use, as the caller presents it.
#[derive(Debug, Clone, Copy)]
pub struct KeyUse<'a> {
    pub principal: &'a str,
    pub key: &'a str,
    pub request_hash: &'a [u8],
}

/// What a key already stands for.
#[derive(Debug)]
pub enum Recorded {
    /// The answer given under the key.
    Answer { status: StatusCode, body: Value },
    /// A command applied under the key whose answer was never stored (the request died after its
    /// append): its events `first_sequence..=last_sequence` of one record, answered with `status`.
    Applied {
        status: StatusCode,
        aggregate_type: String,
        aggregate_id: String,
        first_sequence: u64,
        last_sequence: u64,
    },
}

fn status_of(code: Option<i16>) -> StatusCode {
    code.and_then(|code| u16::try_from(code).ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(StatusCode::OK)
}

fn stored_status(status: StatusCode) -> i16 {
    i16::try_from(status.as_u16()).unwrap_or(i16::MAX)
}

/// What the key stands for, or `None` when it was never used; 422 when it was used for another request.
pub async fn lookup(pool: &PgPool, key: KeyUse<'_>) -> Result<Option<Recorded>, ApiError> {
    type Row =
        (Vec<u8>, Option<i16>, Option<Value>, Option<String>, Option<String>, Option<i64>, Option<i64>, Option<i16>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT request_hash, status, response, aggregate_type, aggregate_id, first_sequence, last_sequence,
                accepted_status
         FROM idempotency_keys WHERE principal = $1 AND key = $2",
    )
    .bind(key.principal)
    .bind(key.key)
    .fetch_optional(pool)
    .await?;
    let Some((hash, status, response, aggregate_type, aggregate_id, first, last, accepted)) = row else {
        return Ok(None);
    };
    if hash != key.request_hash {
        return Err(ApiError::unprocessable(
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different request",
        ));
    }
    match (response, aggregate_type, aggregate_id, first, last) {
        (Some(body), ..) => Ok(Some(Recorded::Answer { status: status_of(status), body })),
        (None, Some(aggregate_type), Some(aggregate_id), Some(first), Some(last)) => Ok(Some(Recorded::Applied {
            status: status_of(accepted),
            aggregate_type,
            aggregate_id,
            first_sequence: u64::try_from(first).unwrap_or_default(),
            last_sequence: u64::try_from(last).unwrap_or_default(),
        })),
        // The table's constraints rule this out: a record has an answer or an outcome.
        _ => Err(crate::error::internal(&sqlx::Error::RowNotFound)),
    }
}

/// Records the answer of the request `attempt`. `false` when another request under the key recorded
/// its outcome or answer first: the caller must answer with that one.
pub async fn record_answer(
    pool: &PgPool,
    key: KeyUse<'_>,
    attempt: Uuid,
    status: StatusCode,
    body: &Value,
) -> Result<bool, ApiError> {
    let recorded = sqlx::query(
        "INSERT INTO idempotency_keys (principal, key, request_hash, attempt, status, response)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (principal, key) DO UPDATE SET status = EXCLUDED.status, response = EXCLUDED.response
         WHERE idempotency_keys.attempt = EXCLUDED.attempt",
    )
    .bind(key.principal)
    .bind(key.key)
    .bind(key.request_hash)
    .bind(attempt)
    .bind(stored_status(status))
    .bind(body)
    .execute(pool)
    .await?;
    Ok(recorded.rows_affected() == 1)
}
