//! One instance at a time runs each worker (a projection, the Andon escalation scheduler). Ownership is a
//! PostgreSQL session advisory lock held by a connection of the owner's own, and the owner does its
//! work *on that connection*: a session lock lives exactly as long as its session, so work on the
//! connection can only commit while the lock is held. When the database restarts, fails over or drops
//! the session, the lock is gone and so is the connection: the next statement fails, the owner lets go,
//! and whichever instance takes the lock next (within `retry`) carries on from the checkpoint.

use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;

/// The advisory lock key of a worker: stable across builds and instances.
pub(crate) fn lock_key(name: &str) -> i64 {
    let digest = Sha256::digest(format!("ms5-floor worker {name}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// A connection holding the worker's advisory lock, or `None` when another instance holds it.
async fn take(pool: &PgPool, name: &str) -> Result<Option<PgConnection>, sqlx::Error> {
    let mut connection = pool.acquire().await?.detach();
    let owned: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(lock_key(name)).fetch_one(&mut connection).await?;
    Ok(owned.then_some(connection))
}

/// Errors after which the owner's connection, and with it the lock, cannot be trusted to exist: the
/// connection failed, or the server ended or refused the session.
pub fn connection_lost(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::Tls(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::PoolClosed | sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 08: connection exception; 57P: the server is shutting down or ended the session;
            // 25P03: the session idled in a transaction past the server's timeout.
            code.starts_with("08") || code.starts_with("57P") || code == "25P03"
        }),
        _ => false,
    }
}

/// Waits until this instance owns `name` and returns the lock's connection, on which the owner does
/// its work until that connection fails; `None` on `stop`. Callers loop:
/// `while let Some(connection) = owned(..).await { work(connection).await }`, and dropping the connection
/// closes the session, which releases the lock if it still exists.
pub async fn owned(
    pool: &PgPool,
    name: &str,
    retry: Duration,
    stop: &mut watch::Receiver<bool>,
) -> Option<PgConnection> {
    while !stopping(stop) {
        match take(pool, name).await {
            Ok(Some(connection)) => {
                tracing::info!(worker = name, "this instance runs the worker");
                return Some(connection);
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(worker = name, %error, "cannot take ownership"),
        }
        pause(retry, stop).await;
    }
    None
}

/// Stop when told to, or when whoever could tell us is gone.
pub(crate) fn stopping(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow() || stop.has_changed().is_err()
}

pub(crate) async fn pause(duration: Duration, stop: &mut watch::Receiver<bool>) {
    tokio::select! {
        () = tokio::time::sleep(duration) => {}
        _ = stop.changed() => {}
    }
}

/// Exponential waits between retries of a failure that is not the event's own: 100 ms doubling to 30 s.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    failures: u32,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const LONGEST: Duration = Duration::from_secs(30);

    pub(crate) fn next(&mut self) -> Duration {
        let wait = Self::FIRST.saturating_mul(2u32.saturating_pow(self.failures)).min(Self::LONGEST);
        self.failures = self.failures.saturating_add(1);
        wait
    }

    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_a_tenth_of_a_second_to_half_a_minute_and_starts_over_after_success() {
        let mut backoff = Backoff::default();
        let waits: Vec<u128> = (0..12).map(|_| backoff.next().as_millis()).collect();
        assert_eq!(&waits[..5], &[100, 200, 400, 800, 1600]);
        assert_eq!(waits[11], 30_000);
        backoff.reset();
        assert_eq!(backoff.next(), Duration::from_millis(100));
    }
}
