//! The commit-order horizon made visible. Readers see only events of transactions below the oldest
//! transaction still running anywhere in the cluster (docs/adr/0002), so one long transaction, in any
//! database, holds back every projection. This says whether committed events wait behind the horizon
//! and which session holds it, so that an operator can end that session.

use sqlx::PgPool;

/// The session whose transaction is the oldest still running in the cluster.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct HorizonHolder {
    pub backend_pid: i32,
    pub application_name: Option<String>,
    pub database: Option<String>,
    /// Seconds since its transaction began; `null` when the service's role may not see other roles'
    /// sessions in full (grant it `pg_read_all_stats`).
    pub transaction_age_seconds: Option<f64>,
    /// `active`, `idle in transaction`, ...; `null` as above.
    pub state: Option<String>,
    /// How many transactions older than the newest one its transaction is.
    pub transaction_age_xids: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Horizon {
    /// Committed events that no projection may read yet because an older transaction still runs.
    pub waiting_events: i64,
    /// The oldest running transaction's session, when events wait behind it.
    pub held_by: Option<HorizonHolder>,
}

/// Where the horizon stands now. The holder comes from `pg_locks`, which every role may read: each
/// transaction with an id holds an exclusive lock on it.
pub async fn horizon(pool: &PgPool) -> Result<Horizon, sqlx::Error> {
    let waiting_events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE transaction_id >= pg_snapshot_xmin(pg_current_snapshot())",
    )
    .fetch_one(pool)
    .await?;
    if waiting_events == 0 {
        return Ok(Horizon { waiting_events, held_by: None });
    }
    let held_by = sqlx::query_as(
        "SELECT l.pid AS backend_pid, a.application_name, a.datname AS database,
                EXTRACT(EPOCH FROM now() - a.xact_start)::float8 AS transaction_age_seconds, a.state,
                age(l.transactionid) AS transaction_age_xids
         FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted
         ORDER BY age(l.transactionid) DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    Ok(Horizon { waiting_events, held_by })
}
