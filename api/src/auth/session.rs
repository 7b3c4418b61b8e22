//! Sessions behind access tokens: opened at sign-in, touched as they are used, ended by sign-out, by
//! inactivity (Part 11 AC-08) or by an administrator (AC-07). Ended sessions stay in the table.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use domain::actor::UserId;
use domain::values::DeviceId;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use super::password::random_secret;
use crate::error::ApiError;

/// Touching a session on every request would make every read a write; this is the resolution of
/// `last_seen_at`, far below any sensible idle timeout.
const TOUCH_AFTER: Duration = Duration::from_secs(15);

/// How long a successful check is trusted without asking the database again. Ending sessions in this
/// process forgets every trusted check, so here revocation is immediate; another service instance
/// notices within this time. A query per request cost a sixth of the HTTP command throughput.
const TRUST_CHECK_FOR: Duration = Duration::from_secs(1);

/// Sessions recently found open.
#[derive(Debug, Default)]
pub struct RecentlyChecked(Mutex<HashMap<Uuid, (Session, Instant)>>);

impl RecentlyChecked {
    fn get(&self, id: Uuid) -> Option<Session> {
        let checked = self.0.lock().ok()?;
        checked.get(&id).filter(|(_, at)| at.elapsed() < TRUST_CHECK_FOR).map(|(session, _)| session.clone())
    }

    fn put(&self, session: &Session) {
        if let Ok(mut checked) = self.0.lock() {
            if checked.len() > 10_000 {
                checked.retain(|_, (_, at)| at.elapsed() < TRUST_CHECK_FOR);
            }
            checked.insert(session.id, (session.clone(), Instant::now()));
        }
    }

    fn forget_all(&self) {
        if let Ok(mut checked) = self.0.lock() {
            checked.clear();
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Session {
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub device_id: Option<String>,
    pub last_seen_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// Why a session can no longer be used.
#[derive(Debug, PartialEq, Eq)]
pub enum Unusable {
    Ended,
    /// It was idle too long and has just been ended: the caller records that for the user.
    TimedOut,
}

impl From<Unusable> for ApiError {
    fn from(unusable: Unusable) -> Self {
        match unusable {
            Unusable::Ended => ApiError::unauthorized("session_ended", "the session has ended; sign in again"),
            Unusable::TimedOut => {
                ApiError::unauthorized("session_timed_out", "the session was idle too long; sign in again")
            }
        }
    }
}

/// Opens a session and returns its id and refresh token (shown to the client once, stored as a digest).
pub async fn open(pool: &PgPool, user: Option<UserId>, device: Option<&DeviceId>) -> Result<(Uuid, String), ApiError> {
    let id = Uuid::now_v7();
    let refresh_token = random_secret();
    sqlx::query(
        "INSERT INTO sessions (id, user_id, device_id, refresh_digest, created_at, last_seen_at)
         VALUES ($1, $2, $3, $4, now(), now())",
    )
    .bind(id)
    .bind(user.map(|user| user.as_uuid()))
    .bind(device.map(DeviceId::as_str))
    .bind(digest(&refresh_token))
    .execute(pool)
    .await?;
    Ok((id, refresh_token))
}

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

const SELECT: &str = "SELECT id, user_id, device_id, last_seen_at, ended_at FROM sessions";

/// The session `id` if it is still usable, touching it; an idle one is ended here.
pub async fn check(
    pool: &PgPool,
    recently: &RecentlyChecked,
    id: Uuid,
    idle_timeout: Duration,
) -> Result<Result<Session, Unusable>, ApiError> {
    if let Some(session) = recently.get(id) {
        return Ok(Ok(session));
    }
    let session: Option<Session> =
        sqlx::query_as(&format!("{SELECT} WHERE id = $1")).bind(id).fetch_optional(pool).await?;
    let checked = match session {
        None => Err(Unusable::Ended),
        Some(session) => keep_alive(pool, session, idle_timeout).await?,
    };
    if let Ok(session) = &checked {
        recently.put(session);
    }
    Ok(checked)
}

/// The session a refresh token belongs to, if it is still usable.
pub async fn by_refresh_token(
    pool: &PgPool,
    token: &str,
    idle_timeout: Duration,
) -> Result<Option<Result<Session, Unusable>>, ApiError> {
    let session: Option<Session> =
        sqlx::query_as(&format!("{SELECT} WHERE refresh_digest = $1")).bind(digest(token)).fetch_optional(pool).await?;
    match session {
        None => Ok(None),
        Some(session) => Ok(Some(keep_alive(pool, session, idle_timeout).await?)),
    }
}

async fn keep_alive(
    pool: &PgPool,
    session: Session,
    idle_timeout: Duration,
) -> Result<Result<Session, Unusable>, ApiError> {
    if session.ended_at.is_some() {
        return Ok(Err(Unusable::Ended));
    }
    let idle = (Utc::now() - session.last_seen_at).to_std().unwrap_or_default();
    if idle > idle_timeout {
        let ended = end(pool, &RecentlyChecked::default(), session.id, "timeout").await?;
        // Another request may have ended it first; only one of them reports the timeout.
        return Ok(Err(if ended { Unusable::TimedOut } else { Unusable::Ended }));
    }
    if idle > TOUCH_AFTER {
        // Many requests of one session can get here at once; only the first needs to write.
        sqlx::query(
            "UPDATE sessions SET last_seen_at = now()
             WHERE id = $1 AND ended_at IS NULL AND last_seen_at < now() - interval '1 second'",
        )
        .bind(session.id)
        .execute(pool)
        .await?;
    }
    Ok(Ok(session))
}

/// Ends one session; false when it had already ended.
pub async fn end(pool: &PgPool, recently: &RecentlyChecked, id: Uuid, reason: &str) -> Result<bool, ApiError> {
    recently.forget_all();
    let ended = sqlx::query("UPDATE sessions SET ended_at = now(), end_reason = $2 WHERE id = $1 AND ended_at IS NULL")
        .bind(id)
        .bind(reason)
        .execute(pool)
        .await?;
    Ok(ended.rows_affected() == 1)
}

/// Ends every open session of a user at once; returns how many there were.
pub async fn end_all_of_user(
    pool: &PgPool,
    recently: &RecentlyChecked,
    user: UserId,
    reason: &str,
) -> Result<u64, ApiError> {
    recently.forget_all();
    let ended =
        sqlx::query("UPDATE sessions SET ended_at = now(), end_reason = $2 WHERE user_id = $1 AND ended_at IS NULL")
            .bind(user.as_uuid())
            .bind(reason)
            .execute(pool)
            .await?;
    Ok(ended.rows_affected())
}

/// Ends every open session of a device (revoked devices lose access at once).
pub async fn end_all_of_device(
    pool: &PgPool,
    recently: &RecentlyChecked,
    device: &DeviceId,
    reason: &str,
) -> Result<u64, ApiError> {
    recently.forget_all();
    let ended =
        sqlx::query("UPDATE sessions SET ended_at = now(), end_reason = $2 WHERE device_id = $1 AND ended_at IS NULL")
            .bind(device.as_str())
            .bind(reason)
            .execute(pool)
            .await?;
    Ok(ended.rows_affected())
}

/// The user a session belongs to, if a person opened it.
pub async fn user_of(pool: &PgPool, id: Uuid) -> Result<Option<UserId>, ApiError> {
    let user: Option<Option<Uuid>> =
        sqlx::query_scalar("SELECT user_id FROM sessions WHERE id = $1").bind(id).fetch_optional(pool).await?;
    Ok(user.flatten().map(UserId::from_uuid))
}

/// When the session made its first signature, if it has.
pub async fn first_signed_at(pool: &PgPool, id: Uuid) -> Result<Option<DateTime<Utc>>, ApiError> {
    let at: Option<Option<DateTime<Utc>>> =
        sqlx::query_scalar("SELECT first_signed_at FROM sessions WHERE id = $1").bind(id).fetch_optional(pool).await?;
    Ok(at.flatten())
}

/// Records that the session has signed: its next signature needs only the password.
pub async fn mark_signed(pool: &PgPool, id: Uuid) -> Result<(), ApiError> {
    sqlx::query("UPDATE sessions SET first_signed_at = now() WHERE id = $1 AND first_signed_at IS NULL")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}
