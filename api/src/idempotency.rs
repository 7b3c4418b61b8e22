//! `Idempotency-Key`: the first response to a command is kept per principal and key; a repeat with the
//! same request gets it again and appends nothing, a repeat with a different request is refused.

use actix_web::http::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

use crate::error::ApiError;

pub const MAX_KEY_LENGTH: usize = 200;

#[derive(Debug)]
pub enum Claim {
    /// First use of the key: run the command, then [`complete`] or [`release`].
    Fresh,
    /// The key was used before for the same request: this was its response.
    Replay { status: StatusCode, body: Value },
}

pub async fn claim(pool: &PgPool, principal: &str, key: &str, request_hash: &[u8]) -> Result<Claim, ApiError> {
    // Two rounds suffice: a concurrent first use either committed its claim (seen in round two) or not.
    for _ in 0..2 {
        let found: Option<(Vec<u8>, Option<i16>, Option<Value>)> = sqlx::query_as(
            "SELECT request_hash, status, response FROM idempotency_keys WHERE principal = $1 AND key = $2",
        )
        .bind(principal)
        .bind(key)
        .fetch_optional(pool)
        .await?;
        match found {
            Some((hash, _, _)) if hash != request_hash => {
                return Err(ApiError::unprocessable(
                    "idempotency_key_reused",
                    "this Idempotency-Key was used for a different request",
                ));
            }
            Some((_, Some(status), Some(body))) => {
                let status = u16::try_from(status).ok().and_then(|s| StatusCode::from_u16(s).ok());
                return Ok(Claim::Replay { status: status.unwrap_or(StatusCode::OK), body });
            }
            Some(_) => {
                return Err(ApiError::conflict(
                    "idempotency_key_in_progress",
                    "a request with this Idempotency-Key is still being processed",
                ));
            }
            None => {
                let inserted = sqlx::query(
                    "INSERT INTO idempotency_keys (principal, key, request_hash) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                )
                .bind(principal)
                .bind(key)
                .bind(request_hash)
                .execute(pool)
                .await?;
                if inserted.rows_affected() == 1 {
                    return Ok(Claim::Fresh);
                }
            }
        }
    }
    Err(ApiError::conflict("idempotency_key_in_progress", "a request with this Idempotency-Key is being processed"))
}

/// Keeps the response of a claimed key.
pub async fn complete(
    pool: &PgPool,
    principal: &str,
    key: &str,
    status: StatusCode,
    body: &Value,
) -> Result<(), ApiError> {
    sqlx::query("UPDATE idempotency_keys SET status = $3, response = $4 WHERE principal = $1 AND key = $2")
        .bind(principal)
        .bind(key)
        .bind(i16::try_from(status.as_u16()).unwrap_or(i16::MAX))
        .bind(body)
        .execute(pool)
        .await?;
    Ok(())
}

/// Gives a claimed key up after a failure worth retrying (5xx): nothing was decided under it.
pub async fn release(pool: &PgPool, principal: &str, key: &str) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2 AND status IS NULL")
        .bind(principal)
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}
