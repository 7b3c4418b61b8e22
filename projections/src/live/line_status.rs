//! The line status board, composed from the jobs, downtime and Andon read models: whether a line runs,
//! is stopped (and why) or is unknown; its current job and progress; its open Andon calls; the OEE of
//! the shift running now, so far. [`Boards`] keeps each line's board as read until a commit names the
//! line, and works out the shift's figures for each request's "now".

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use sqlx::types::Json;
use tokio::sync::Notify;

use domain::line::Line;

use crate::engine::projection::Projection as _;
use crate::live::changes::Changes;
use crate::read_models::andon::{CALL_COLUMNS, CallRow};
use crate::read_models::downtime::StopRow;
use crate::read_models::jobs::JobRow;
use crate::read_models::oee::query::{CurrentShift, Period, current_shift};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineStatus {
    pub line: String,
    /// The line's name and the time zone its site keeps time in, once the OEE read model knows the line.
    pub name: Option<String>,
    pub time_zone: Option<String>,
    /// `stopped` while a stop of the whole line is open, else `running` while a job runs, else `unknown`.
    pub state: &'static str,
    /// The open stop of the whole line, with its reason once given.
    pub stop: Option<StopRow>,
    /// The running or paused job, the newest if several.
    pub job: Option<JobRow>,
    pub open_calls: Vec<CallRow>,
    /// The shift occurrence running at the time of the query, up to then; `None` between shifts.
    pub shift_oee: Option<Period>,
    /// Where each read model behind this status is in the log (projection, position).
    pub freshness: Vec<(String, i64)>,
}

/// The read models a status is made of.
pub(crate) const READ_MODELS: [&str; 4] = [
    crate::read_models::andon::Calls::NAME,
    crate::read_models::downtime::Stops::NAME,
    crate::read_models::jobs::Jobs::NAME,
    crate::read_models::oee::Oee::NAME,
];

/// Where each read model behind the status board is in the log (projection, position), by name.
pub async fn positions(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT name, position FROM projection_checkpoints WHERE name = ANY($1) ORDER BY name")
        .bind(READ_MODELS)
        .fetch_all(pool)
        .await
}

/// A board as read: its rows, and the running shift's facts from which its figures follow at any "now"
/// the facts hold for.
#[derive(Debug, Clone)]
struct Board {
    status: LineStatus,
    shift: CurrentShift,
}

impl Board {
    /// Raises the freshness to `positions`: positions announced since the board was read, by commits
    /// that did not name its line.
    fn raise(&mut self, positions: &BTreeMap<String, i64>) {
        for (name, position) in &mut self.status.freshness {
            *position = (*position).max(positions.get(name.as_str()).copied().unwrap_or_default());
        }
    }

    /// The status at `now`.
    fn at(&self, now: DateTime<Utc>) -> LineStatus {
        LineStatus { shift_oee: self.shift.oee_at(now), ..self.status.clone() }
    }
}

/// The row of the status query: each part as JSON, and the line's configuration as the OEE model has it.
type StatusRow =
    (Json<Vec<(String, i64)>>, Option<Json<StopRow>>, Option<Json<JobRow>>, Json<Vec<CallRow>>, Option<Json<Line>>);

/// The status, job, calls and the line's configuration come from one statement, so one snapshot: those
/// rows and the checkpoints beside them are exactly consistent. The shift's stops and counts are read
/// after it, so they are at least as fresh.
async fn read(pool: &PgPool, line: &str, now: DateTime<Utc>) -> Result<Board, sqlx::Error> {
    let (freshness, stop, job, open_calls, config): StatusRow = sqlx::query_as(&format!(
        "SELECT
               (SELECT COALESCE(jsonb_agg(jsonb_build_array(name, position) ORDER BY name), '[]')
                  FROM projection_checkpoints WHERE name = ANY($2)),
               (SELECT to_jsonb(s) FROM (
                  SELECT downtime_id, line, equipment, started_at, ended_at, duration_ms, class, reason_code,
                         loss_category
                  FROM read_downtime WHERE line = $1 AND ended_at IS NULL AND equipment IS NULL
                  ORDER BY started_at DESC LIMIT 1) s),
               (SELECT to_jsonb(j) FROM (
                  SELECT job_id, line, status, product, target_quantity::text AS target_quantity, good, reject,
                         last_position
                  FROM read_jobs WHERE line = $1 AND status IN ('running', 'paused')
                  ORDER BY job_id DESC LIMIT 1) j),
               (SELECT COALESCE(jsonb_agg(to_jsonb(c) ORDER BY c.raised_at, c.call_id), '[]') FROM (
                  SELECT {CALL_COLUMNS} FROM read_andon WHERE line = $1 AND closed_at IS NULL) c),
               (SELECT state FROM read_oee_lines WHERE line = $1)"
    ))
    .bind(line)
    .bind(READ_MODELS)
    .fetch_one(pool)
    .await?;
    let (stop, job) = (stop.map(|stop| stop.0), job.map(|job| job.0));
    let state = match (&stop, &job) {
        (Some(_), _) => "stopped",
        (None, Some(job)) if job.status == "running" => "running",
        _ => "unknown",
    };
    let config = config.map(|Json(config)| config);
    let identity = config.as_ref().and_then(|config| config.identity.as_ref());
    let (name, time_zone) =
        (identity.map(|(_, name, _)| name.to_string()), identity.map(|(_, _, zone)| zone.to_string()));
    let shift = current_shift(pool, line, config, now).await?;
    let status = LineStatus {
        line: line.to_owned(),
        name,
        time_zone,
        state,
        stop,
        job,
        open_calls: open_calls.0,
        shift_oee: None,
        freshness: freshness.0,
    };
    Ok(Board { status, shift })
}

/// The boards this process has read, each kept while no commit named its line since and the clock stays
/// within the shift (or the time between shifts) it was read in. Dashboards ask far more often than a
/// line changes, and every live stream of a line asks at once when it changes: one request reads a
/// changed board, the others wait for its read. A board served from here says how fresh it is like any
/// other.
#[derive(Debug)]
pub struct Boards {
    changes: Arc<Changes>,
    kept: Mutex<HashMap<String, Arc<Slot>>>,
    reads: AtomicU64,
    shared: AtomicU64,
}

/// A line's board as last read, and whether a request is reading it again.
#[derive(Debug, Default)]
struct Slot {
    state: Mutex<SlotState>,
    /// Woken when a read ends, whether it kept a board or failed.
    read: Notify,
}

/// The kept board with the line's version (`Changes::of_line`) taken before its read; the newest version
/// a request is reading now.
#[derive(Debug, Default)]
struct SlotState {
    kept: Option<(u64, Board)>,
    reading: Option<u64>,
}

/// How the boards were served: reads of the database, and requests that waited for another's read
/// instead of reading themselves (since the process started).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoardReads {
    pub read: u64,
    pub shared: u64,
}

/// Whether a board that a commit has made out of date may be served while another request reads it
/// again: yes for a poll, whose next poll gets the new one; never for a live stream, which is only
/// woken by the next commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Staleness {
    WhileReadAgain,
    Never,
}

/// Ends a request's reading of a slot, also when the request is dropped halfway, and wakes the requests
/// waiting for it: they are served the board it kept, or one of them reads.
struct Reading<'a> {
    slot: &'a Slot,
    version: u64,
}

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        let mut state = lock(&self.slot.state);
        if state.reading == Some(self.version) {
            state.reading = None;
        }
        drop(state);
        self.slot.read.notify_waiters();
    }
}

/// No update of a slot can be left halfway (each is one assignment), so a poisoned lock is still sound.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What a request does with a slot.
enum Next<T> {
    Serve(T),
    Wait,
    Read,
}

impl Boards {
    pub fn new(changes: Arc<Changes>) -> Self {
        Self { changes, kept: Mutex::default(), reads: AtomicU64::new(0), shared: AtomicU64::new(0) }
    }

    pub fn reads(&self) -> BoardReads {
        BoardReads { read: self.reads.load(Ordering::Relaxed), shared: self.shared.load(Ordering::Relaxed) }
    }

    /// The status of `line` at `now`: the kept board while it is up to date, else the board another
    /// request is reading for a version at least as new, else read again.
    pub async fn status(
        &self,
        pool: &PgPool,
        line: &str,
        now: DateTime<Utc>,
        staleness: Staleness,
    ) -> Result<LineStatus, sqlx::Error> {
        let slot = {
            let mut kept = lock(&self.kept);
            // Looked up before inserting: a poll of a known line allocates nothing here.
            match kept.get(line) {
                Some(slot) => Arc::clone(slot),
                None => Arc::clone(kept.entry(line.to_owned()).or_default()),
            }
        };
        // Taken before any read: a commit announced during the read makes the board out of date at once.
        // The positions are from the same moment: the commits up to them did not name the line since the
        // kept board was read (or are in the new read), so the board reflects them.
        let Some((version, positions)) = self.changes.of_line(line) else {
            self.reads.fetch_add(1, Ordering::Relaxed);
            return Ok(read(pool, line, now).await?.at(now));
        };
        let mut waited = false;
        loop {
            // Registered before the state is looked at, so that a read ending in between still wakes it.
            let woken = slot.read.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let next = {
                let mut state = lock(&slot.state);
                let reading = state.reading;
                match (&mut state.kept, reading) {
                    (Some((kept, board)), _) if *kept >= version && board.shift.holds_at(now) => {
                        board.raise(&positions);
                        Next::Serve(board.at(now))
                    }
                    (Some((_, board)), Some(_))
                        if staleness == Staleness::WhileReadAgain && board.shift.holds_at(now) =>
                    {
                        Next::Serve(board.at(now))
                    }
                    (_, Some(newest)) if newest >= version => Next::Wait,
                    _ => {
                        state.reading = Some(version);
                        Next::Read
                    }
                }
            };
            match next {
                Next::Serve(status) => return Ok(status),
                Next::Wait => {
                    if !waited {
                        waited = true;
                        self.shared.fetch_add(1, Ordering::Relaxed);
                    }
                    woken.await;
                }
                Next::Read => break,
            }
        }
        let reading = Reading { slot: &slot, version };
        self.reads.fetch_add(1, Ordering::Relaxed);
        let mut board = read(pool, line, now).await?;
        board.raise(&positions);
        let status = board.at(now);
        {
            let mut state = lock(&slot.state);
            if state.kept.as_ref().is_none_or(|(kept, _)| *kept <= version) {
                state.kept = Some((version, board));
            }
        }
        drop(reading);
        Ok(status)
    }
}
