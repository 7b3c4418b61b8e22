//! Announcing appends to listeners in any process (projector workers wait on `LISTEN ms5_events`).
//! A NOTIFY inside each appending transaction would serialise every append's commit on PostgreSQL's
//! database-wide notification lock (measured: 32 writers fell from ~10,000 to ~3,000 commands/s), so
//! appends only mark this process dirty and one task sends at most one NOTIFY per period.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;

/// The channel appends are announced on.
pub const CHANNEL: &str = "ms5_events";

static APPENDED: AtomicBool = AtomicBool::new(false);

/// Called after an append commits.
pub(crate) fn appended() {
    APPENDED.store(true, Ordering::Relaxed);
}

/// Sends a NOTIFY on [`CHANNEL`] at most once per `period`, after appends in this process, until
/// `stop` turns true or its sender is dropped. A lost NOTIFY costs listeners one poll interval, nothing else.
pub async fn announce_appends(pool: PgPool, period: Duration, mut stop: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !*stop.borrow() && stop.has_changed().is_ok() {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => continue,
        }
        if APPENDED.swap(false, Ordering::Relaxed)
            && let Err(error) = sqlx::query("SELECT pg_notify($1, '')").bind(CHANNEL).execute(&pool).await
        {
            tracing::debug!(%error, "could not announce appends; listeners will poll");
        }
    }
}
