//! The credential tables: a user's current password hash and its history, a device's secret hash.

use std::future::Future;

use chrono::{DateTime, Utc};
use commands::CommandOutcome;
use domain::actor::UserId;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::error::{ApiError, internal};

/// Runs `work` on a task of its own, so that a client going away cannot cancel it halfway: sqlx's
/// `begin` on PostgreSQL is not cancel-safe (launchbadge/sqlx#4393) and a `BEGIN` cancelled in flight
/// returns a connection inside an open transaction to the pool, where the next command would run in it.
async fn to_completion<T: 'static>(work: impl Future<Output = Result<T, ApiError>> + 'static) -> Result<T, ApiError> {
    actix_web::rt::spawn(work).await.map_err(|error| internal(&error))?
}

/// A new account's secret, stored only together with the account's creation event.
#[derive(Debug)]
pub enum NewSecret {
    /// A person's password hash. `first`: refused (409) once any account exists: the bootstrap.
    Person {
        user: UserId,
        username: String,
        hash: String,
        must_change: bool,
        first: bool,
    },
    Device {
        device: String,
        hash: String,
    },
}

/// Stores `secret` and runs `create`, which appends the account's creation event; the secret's
/// transaction commits only once the event is stored, so neither exists without the other.
pub async fn create_account(
    pool: PgPool,
    secret: NewSecret,
    create: impl Future<Output = Result<CommandOutcome, ApiError>> + 'static,
) -> Result<CommandOutcome, ApiError> {
    to_completion(async move {
        let mut transaction = pool.begin().await?;
        match &secret {
            NewSecret::Person { user, username, hash, must_change, first } => {
                if *first {
                    // Serialises bootstraps: only the first one finds no account.
                    sqlx::query("LOCK TABLE user_credentials IN SHARE ROW EXCLUSIVE MODE")
                        .execute(&mut *transaction)
                        .await?;
                    if any_account(&mut transaction).await? {
                        return Err(ApiError::conflict(
                            "already_bootstrapped",
                            "accounts exist; the first administrator was created",
                        ));
                    }
                }
                insert(&mut transaction, *user, username, hash, *must_change).await?;
            }
            NewSecret::Device { device, hash } => insert_device(&mut transaction, device, hash).await?,
        }
        let outcome = create.await?;
        transaction.commit().await?;
        Ok(outcome)
    })
    .await
}

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

/// A unique key that refused an insert is a 409 with `code`; any other error stays what it is.
fn taken(error: sqlx::Error, code: &str, message: String) -> ApiError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => ApiError::conflict(code, message),
        _ => error.into(),
    }
}

/// Adds an account's first password inside `transaction`. A taken username is a 409.
async fn insert(
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
    .map_err(|error| taken(error, "username_taken", format!("the username {username} is taken")))?;
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
    let (pool, hash) = (pool.clone(), hash.to_owned());
    to_completion(async move { replace_now(&pool, user, &hash, must_change).await }).await
}

async fn replace_now(pool: &PgPool, user: UserId, hash: &str, must_change: bool) -> Result<(), ApiError> {
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

async fn insert_device(transaction: &mut PgConnection, device: &str, hash: &str) -> Result<(), ApiError> {
    sqlx::query("INSERT INTO device_credentials (device_id, secret) VALUES ($1, $2)")
        .bind(device)
        .bind(hash)
        .execute(transaction)
        .await
        .map_err(|error| taken(error, "device_exists", format!("device {device} is already enrolled")))?;
    Ok(())
}

/// Whether any account has been created: the bootstrap step is allowed only before.
async fn any_account(connection: &mut PgConnection) -> Result<bool, ApiError> {
    Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM user_credentials)").fetch_one(connection).await?)
}

/// Sets a new password, checking the policy and that it repeats none of the recent ones.
pub async fn new_password_hash(
    app: &crate::state::AppState,
    user: Option<UserId>,
    username: &str,
    password: &str,
) -> Result<String, ApiError> {
    let policy = &app.settings.password_policy;
    crate::auth::password::check_strength(policy, password, username)?;
    if let Some(user) = user {
        for old in recent_hashes(&app.pool, user, policy.history).await? {
            if crate::auth::password::verify(password.to_owned(), Some(old)).await? {
                return Err(ApiError::unprocessable(
                    "password_reused",
                    format!("the password must differ from the last {} passwords", policy.history),
                ));
            }
        }
    }
    crate::auth::password::hash(password.to_owned()).await
}
