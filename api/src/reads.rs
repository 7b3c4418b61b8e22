//! Where reads go. With a streaming replica configured (`MS5_READ_DATABASE_URL`), dashboards, history
//! and exports read from it while it keeps up, and from the primary while it lags more than allowed or
//! cannot be reached; every read is counted by where it went and why (`reads_total`). Commands,
//! projections, sign-in, live streams and the ledger always use the primary. docs/deployment.md,
//! "Read replicas".

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

/// A replica to read from, and how far behind the primary it may be.
#[derive(Debug, Clone)]
pub struct ReadReplica {
    pub pool: PgPool,
    pub max_lag: Duration,
}

/// Which database answered a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadFrom {
    Primary,
    Replica,
}

/// The primary and, when configured, the replica with what is known of it.
#[derive(Debug)]
pub struct Reads {
    primary: PgPool,
    replica: Option<(ReadReplica, Arc<Mutex<Health>>)>,
}

/// What the follower last found.
#[derive(Debug, Clone, Copy)]
enum Health {
    /// Not checked yet, or the last check failed.
    Unreachable,
    /// Reached; its replay is this far behind the primary.
    Behind(Duration),
}

/// How often the follower checks the replica, and how long a check may take.
const CHECK_EVERY: Duration = Duration::from_secs(1);
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// The primary's WAL positions kept to date the replica's replay: lag beyond this shows as this.
const REMEMBERED: usize = 300;

impl Reads {
    /// Starts following the replica, if one is given, for as long as the returned value lives. Must
    /// be called inside a Tokio runtime.
    pub fn new(primary: PgPool, replica: Option<ReadReplica>) -> Self {
        let replica = replica.map(|replica| {
            let health = Arc::new(Mutex::new(Health::Unreachable));
            tokio::spawn(follow(primary.clone(), replica.pool.clone(), Arc::downgrade(&health)));
            (replica, health)
        });
        Self { primary, replica }
    }

    /// The pool one request reads from, chosen once so that everything it reads is of one database.
    pub fn choose(&self) -> (PgPool, ReadFrom) {
        let Some((replica, health)) = &self.replica else {
            return (self.primary.clone(), ReadFrom::Primary);
        };
        let health = *health.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let fallback = match health {
            Health::Behind(lag) if lag <= replica.max_lag => {
                metrics::counter!("reads_total", "from" => "replica", "fallback" => "none").increment(1);
                return (replica.pool.clone(), ReadFrom::Replica);
            }
            Health::Behind(_) => "lagging",
            Health::Unreachable => "unreachable",
        };
        metrics::counter!("reads_total", "from" => "primary", "fallback" => fallback).increment(1);
        (self.primary.clone(), ReadFrom::Primary)
    }
}

/// Checks the replica every second until `health` is dropped: how far its replay is behind the
/// primary, dated by the primary's WAL positions seen before. Also sets `read_replica_up` and
/// `read_replica_lag_seconds`.
async fn follow(primary: PgPool, replica: PgPool, health: Weak<Mutex<Health>>) {
    let mut seen: VecDeque<(Instant, i64)> = VecDeque::with_capacity(REMEMBERED);
    let mut ticks = tokio::time::interval(CHECK_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(health) = health.upgrade() else { return };
        if let Ok(position) = primary_position(&primary).await {
            if seen.len() == REMEMBERED {
                seen.pop_front();
            }
            seen.push_back((Instant::now(), position));
        }
        let found = match tokio::time::timeout(CHECK_TIMEOUT, replayed(&replica)).await {
            Ok(Ok(None)) => Health::Behind(Duration::ZERO),
            Ok(Ok(Some(replayed))) => Health::Behind(behind(&seen, replayed)),
            Ok(Err(error)) => {
                tracing::warn!(%error, "the read replica cannot be reached; reads go to the primary");
                Health::Unreachable
            }
            Err(_) => {
                tracing::warn!("the read replica did not answer in time; reads go to the primary");
                Health::Unreachable
            }
        };
        match found {
            Health::Behind(lag) => {
                metrics::gauge!("read_replica_up").set(1.0);
                metrics::gauge!("read_replica_lag_seconds").set(lag.as_secs_f64());
            }
            Health::Unreachable => metrics::gauge!("read_replica_up").set(0.0),
        }
        *health.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = found;
    }
}

/// How long ago the primary first held WAL the replica has not replayed: zero when it has replayed
/// everything seen.
fn behind(seen: &VecDeque<(Instant, i64)>, replayed: i64) -> Duration {
    seen.iter().find(|(_, position)| *position > replayed).map_or(Duration::ZERO, |(at, _)| at.elapsed())
}

async fn primary_position(primary: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint").fetch_one(primary).await
}

/// The replica's replayed WAL position; `None` when the server is not in recovery (a primary named as
/// the read URL is never behind).
async fn replayed(replica: &PgPool) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT CASE WHEN pg_is_in_recovery() THEN (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint END",
    )
    .fetch_one(replica)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_is_as_far_behind_as_the_oldest_position_it_has_not_replayed() {
        let now = Instant::now();
        let seen: VecDeque<_> =
            [(now - Duration::from_secs(9), 100), (now - Duration::from_secs(5), 200), (now, 300)].into();
        assert_eq!(behind(&seen, 300), Duration::ZERO);
        assert!(behind(&seen, 250) < Duration::from_secs(1));
        let lag = behind(&seen, 150);
        assert!(lag >= Duration::from_secs(5) && lag < Duration::from_secs(6), "{lag:?}");
        assert!(behind(&seen, 50) >= Duration::from_secs(9));
    }
}
