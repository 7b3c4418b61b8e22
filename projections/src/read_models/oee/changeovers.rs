//! Changeovers of a line (docs/oee.md, "Changeovers"): every whole-line stop booked to a setup reason,
//! attributed to the product the line made last in the three days before it and the product it made
//! first in the three days after it (a weekend's standstill included; the bound keeps each lookup to a
//! range of the line's counts rather than its history), and the average changeover time per pair.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::oee::Interval;
use serde::Serialize;
use sqlx::PgPool;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changeover {
    pub downtime_id: String,
    pub reason: Option<String>,
    pub started_at: DateTime<Utc>,
    /// `None` while the line is still being changed over.
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<u64>,
    /// The product of the last units counted in the three days before the stop; `None` when none were.
    pub from_product: Option<String>,
    /// The product of the first units counted in the three days after it; `None` until something is.
    pub to_product: Option<String>,
}

/// The ended changeovers from one product to another: how many, and their time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PairAverage {
    pub from_product: Option<String>,
    pub to_product: Option<String>,
    pub changeovers: u64,
    pub total_ms: u64,
    /// `total_ms / changeovers`, rounded down to the millisecond.
    pub average_ms: u64,
}

/// The changeovers of `line` that start in `range`, in order.
pub async fn changeovers(pool: &PgPool, line: &str, range: Interval) -> Result<Vec<Changeover>, sqlx::Error> {
    type Row = (String, Option<String>, DateTime<Utc>, Option<DateTime<Utc>>, Option<String>, Option<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT s.downtime_id, s.state->'reason'->>'code', s.started_at, s.ended_at,
                (SELECT c.product FROM read_oee_counts c
                 WHERE c.line = $1 AND c.made_at < s.started_at AND c.made_at >= s.started_at - interval '3 days'
                 ORDER BY c.made_at DESC LIMIT 1),
                (SELECT c.product FROM read_oee_counts c
                 WHERE c.line = $1 AND c.made_at >= s.ended_at AND c.made_at < s.ended_at + interval '3 days'
                 ORDER BY c.made_at LIMIT 1)
         FROM read_oee_stops s
         WHERE s.line = $1 AND s.equipment IS NULL AND s.started_at >= $2 AND s.started_at < $3
           AND s.state->'reason'->>'loss_category' = 'setup'
         ORDER BY s.started_at, s.downtime_id",
    )
    .bind(line)
    .bind(range.start())
    .bind(range.end())
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(downtime_id, reason, started_at, ended_at, from_product, to_product)| Changeover {
            duration_ms: ended_at.and_then(|end| Interval::new(started_at, end)).map(|stop| stop.duration_ms()),
            downtime_id,
            reason,
            started_at,
            ended_at,
            from_product,
            to_product,
        })
        .collect())
}

/// The ended changeovers summed per (from, to) pair of products.
pub fn per_pair(changeovers: &[Changeover]) -> Vec<PairAverage> {
    let mut pairs: BTreeMap<(Option<String>, Option<String>), (u64, u64)> = BTreeMap::new();
    for changeover in changeovers {
        let Some(ms) = changeover.duration_ms else { continue };
        let pair = pairs.entry((changeover.from_product.clone(), changeover.to_product.clone())).or_default();
        *pair = (pair.0 + 1, pair.1 + ms);
    }
    pairs
        .into_iter()
        .map(|((from_product, to_product), (changeovers, total_ms))| PairAverage {
            from_product,
            to_product,
            changeovers,
            total_ms,
            average_ms: total_ms / changeovers,
        })
        .collect()
}
