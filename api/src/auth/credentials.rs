//! The credential tables: a user's current password hash and its history, a device's secret hash.

use chrono::{DateTime, Utc};
use domain::actor::UserId;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::error::ApiError;

#[derive(Debug, sqlx::FromRow)]
pub struct UserCredentials {
    pub user_id: Uuid,
    pub password: String,
    pub set_at: DateTime<Utc>,
    pub must_change: bool,
}

pub async fn by_username(pool: &PgPool, username: &str) -> Result<Option<UserCredentials>, ApiError> {
    Ok(sqlx::query_as("SELECT user_id, password, set_at, must_change FROM user_credentials WHERE username = $1")
        .bind(username)
        .fetch_optional(pool)
        .await?)
}

/// Adds an account's first password inside `transaction`, which the caller commits only once the
/// account's creation event is stored. A taken username is a 409.
pub async fn insert(
    transaction: &mut PgConnection,
    user: UserId,
    username: &str,
    hash: &str,
    must_change: bool,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO user_credentials (user_id, username, password, set_at, must_change) VALUES ($1, $2, $3, now(), $4)",
    )
    .bind(user.as_uuid())
    .bind(username)
    .bind(hash)
    .bind(must_change)
    .execute(transaction)
    .await
    .map_err(|error| match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            ApiError::conflict("username_taken", format!("the username {username} is taken"))
        }
        _ => error.into(),
    })?;
    Ok(())
}

/// The hashes a new password must not match: the current one and the last `count - 1` before it.
pub async fn recent_hashes(pool: &PgPool, user: UserId, count: usize) -> Result<Vec<String>, ApiError> {
    let limit = i64::try_from(count).unwrap_or(i64::MAX);
    Ok(sqlx::query_scalar(
        "(SELECT password FROM user_credentials WHERE user_id = $1)
         UNION ALL
         (SELECT password FROM password_history WHERE user_id = $1 ORDER BY set_at DESC LIMIT GREATEST($2 - 1, 0))",
    )
    .bind(user.as_uuid())
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Replaces a user's password, keeping the old hash in the history.
pub async fn replace(pool: &PgPool, user: UserId, hash: &str, must_change: bool) -> Result<(), ApiError> {
    let mut transaction = pool.begin().await?;
    sqlx::query(
        "INSERT INTO password_history (user_id, password, set_at)
         SELECT user_id, password, set_at FROM user_credentials WHERE user_id = $1",
    )
    .bind(user.as_uuid())
    .execute(&mut *transaction)
    .await?;
    sqlx::query("UPDATE user_credentials SET password = $2, set_at = now(), must_change = $3 WHERE user_id = $1")
        .bind(user.as_uuid())
        .bind(hash)
        .bind(must_change)
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    Ok(())
}

pub async fn device_secret(pool: &PgPool, device: &str) -> Result<Option<String>, ApiError> {
    Ok(sqlx::query_scalar("SELECT secret FROM device_credentials WHERE device_id = $1")
        .bind(device)
        .fetch_optional(pool)
        .await?)
}

pub async fn insert_device(transaction: &mut PgConnection, device: &str, hash: &str) -> Result<(), ApiError> {
    sqlx::query("INSERT INTO device_credentials (device_id, secret) VALUES ($1, $2)")
        .bind(device)
        .bind(hash)
        .execute(transaction)
        .await
        .map_err(|error| match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                ApiError::conflict("device_exists", format!("device {device} is already enrolled"))
            }
            _ => error.into(),
        })?;
    Ok(())
}

/// Whether any account has been created: the bootstrap step is allowed only before.
pub async fn any_account(connection: &mut PgConnection) -> Result<bool, ApiError> {
    Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM user_credentials)").fetch_one(connection).await?)
}
