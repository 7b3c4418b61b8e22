//! What the workers announce when they commit, the process's follower of those announcements, and the
//! status boards it keeps: a board changes when a commit names its line, reports the positions of
//! commits that did not, and starts the shift's figures when the shift starts, with no commit at all.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, NaiveTime, Utc};
use commands::{PgEventStore, StoreSettings, execute};
use domain::line::{Line, LineCommand, ShiftDefinition};
use domain::line_id::LineId;
use domain::values::{Name, ShiftName};
use projections::engine::committed::{CHANNEL, Committed};
use projections::live::changes::Changes;
use projections::live::line_status::{Boards, LineStatus, Staleness};
use projections::read_models::jobs::Jobs;
use projections::read_models::oee::Oee;
use sqlx::postgres::PgListener;

use crate::support::{DEADLINE, Fixture, context, fixture, produce, running_job_on};

const L3: &str = "plant-1/packing/L3";
const L4: &str = "plant-1/packing/L4";

async fn checkpoint_position(fixture: &Fixture, name: &str) -> i64 {
    sqlx::query_scalar("SELECT position FROM projection_checkpoints WHERE name = $1")
        .bind(name)
        .fetch_one(&fixture.app)
        .await
        .unwrap()
}

/// A follower of the commit announcements that listens already, and boards kept through it.
async fn listening(fixture: &Fixture) -> (Arc<Changes>, Boards) {
    let changes = Changes::new(fixture.app.clone());
    let deadline = Instant::now() + DEADLINE;
    while changes.of_line(L3).is_none() {
        assert!(Instant::now() < deadline, "the follower never listened");
        tokio::task::yield_now().await;
    }
    let boards = Boards::new(Arc::clone(&changes));
    (changes, boards)
}

/// Reads `line`'s board until `done` holds for it, or fails at the deadline with the last board.
async fn board_until(fixture: &Fixture, boards: &Boards, line: &str, done: impl Fn(&LineStatus) -> bool) -> LineStatus {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let status = boards.status(&fixture.app, line, Utc::now(), Staleness::Never).await.unwrap();
        if done(&status) {
            return status;
        }
        assert!(Instant::now() < deadline, "the board of {line} never got there: {status:?}");
        tokio::task::yield_now().await;
    }
}

fn position_of(status: &LineStatus, name: &str) -> i64 {
    status.freshness.iter().find(|(model, _)| model == name).map_or(0, |(_, position)| *position)
}

#[tokio::test]
async fn a_commit_announces_its_read_model_its_position_and_the_lines_it_changed() {
    let fixture = fixture().await;
    let mut listener = PgListener::connect_with(&fixture.app).await.unwrap();
    listener.listen(CHANNEL).await.unwrap();
    let store = fixture.jobs();
    for line in [L3, L4] {
        let job = running_job_on(&store, line, "BOTTLE-500").await;
        produce(&store, &job, 5, 0).await;
    }
    fixture.caught_up(&Jobs).await;
    fixture.caught_up(&Oee).await;

    for name in ["jobs", "oee"] {
        let last = checkpoint_position(&fixture, name).await;
        let mut named = BTreeSet::new();
        loop {
            let notification = listener.recv().await.unwrap();
            let committed = Committed::parse(notification.payload()).unwrap_or_else(|| panic!("{notification:?}"));
            if committed.projection != name {
                continue;
            }
            assert!(committed.position <= last, "{name} announced {committed:?} beyond its checkpoint {last}");
            named.extend(committed.lines.unwrap_or_else(|| panic!("{name} named no lines")));
            if committed.position == last {
                break;
            }
        }
        assert_eq!(named, BTreeSet::from([L3.to_owned(), L4.to_owned()]), "{name}");
    }
}

#[tokio::test]
async fn a_kept_board_changes_when_a_commit_names_its_line_and_reports_the_position_of_others() {
    let fixture = fixture().await;
    let store = fixture.jobs();
    let (on_l3, on_l4) =
        (running_job_on(&store, L3, "BOTTLE-500").await, running_job_on(&store, L4, "BOTTLE-500").await);
    fixture.caught_up(&Jobs).await;
    let (_changes, boards) = listening(&fixture).await;
    let l3_before = board_until(&fixture, &boards, L3, |status| status.job.is_some()).await;
    board_until(&fixture, &boards, L4, |status| status.job.is_some()).await;

    produce(&store, &on_l4, 5, 0).await;
    fixture.caught_up(&Jobs).await;
    let jobs_at = checkpoint_position(&fixture, "jobs").await;
    board_until(&fixture, &boards, L4, |status| status.job.as_ref().is_some_and(|job| job.good == 5)).await;
    let l3_after = board_until(&fixture, &boards, L3, |status| position_of(status, "jobs") == jobs_at).await;
    assert_eq!(l3_after.job, l3_before.job, "nothing of L3 changed");

    produce(&store, &on_l3, 3, 0).await;
    fixture.caught_up(&Jobs).await;
    board_until(&fixture, &boards, L3, |status| status.job.as_ref().is_some_and(|job| job.good == 3)).await;
}

#[tokio::test]
async fn a_kept_board_shows_the_shift_from_its_start_to_its_end_with_no_commit_in_between() {
    let fixture = fixture().await;
    let lines: PgEventStore<Line> = PgEventStore::new(fixture.app.clone(), StoreSettings::default());
    let time = |text: &str| NaiveTime::parse_from_str(text, "%H:%M").unwrap();
    let at = |text: &str| DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).unwrap();
    let early = ShiftDefinition {
        name: ShiftName::parse("early").unwrap(),
        start: time("06:00"),
        end: time("14:00"),
        breaks: Vec::new(),
        days: domain::line::Weekdays::default(),
    };
    let setup = [
        LineCommand::Register {
            line: LineId::parse(L3).unwrap(),
            name: Name::parse("Line 3").unwrap(),
            time_zone: chrono_tz::UTC,
        },
        LineCommand::SetShiftCalendar { shifts: vec![early], effective_from: at("2026-01-01T00:00:00Z"), reason: None },
    ];
    for command in setup {
        execute(&lines, L3, command, &context()).await.unwrap();
    }
    fixture.caught_up(&Oee).await;
    let (_changes, boards) = listening(&fixture).await;
    // The board is kept from the first read on; the clock of each read is given.
    let shift_at = |text: &'static str| {
        let boards = &boards;
        let pool = fixture.app.clone();
        async move {
            let status = boards.status(&pool, L3, at(text), Staleness::Never).await.unwrap();
            status.shift_oee.map(|period| (period.shift, period.start, period.oee.window))
        }
    };
    assert_eq!(shift_at("2026-11-20T05:59:59Z").await, None);
    let (name, start, window) = shift_at("2026-11-20T06:00:01Z").await.expect("no shift at 06:00:01");
    assert_eq!((name.as_deref(), start), (Some("early"), at("2026-11-20T06:00:00Z")));
    assert_eq!(window.map(|window| window.end()), Some(at("2026-11-20T06:00:01Z")), "measured up to the read");
    let later = shift_at("2026-11-20T13:00:00Z").await.and_then(|(_, _, window)| window).map(|window| window.end());
    assert_eq!(later, Some(at("2026-11-20T13:00:00Z")));
    assert_eq!(shift_at("2026-11-20T14:00:01Z").await, None);
}

/// A board of L3 kept with its job, then a count of 7 on that job, committed and announced but not
/// read yet: the boards, the kept status and the jobs read model's position after the count.
async fn kept_then_changed(fixture: &Fixture) -> (Arc<Boards>, LineStatus, i64) {
    let store = fixture.jobs();
    let job = running_job_on(&store, L3, "BOTTLE-500").await;
    fixture.caught_up(&Jobs).await;
    let (changes, boards) = listening(fixture).await;
    let deadline = Instant::now() + DEADLINE;
    let kept = board_until(fixture, &boards, L3, |status| status.job.is_some()).await;
    produce(&store, &job, 7, 0).await;
    fixture.caught_up(&Jobs).await;
    let jobs_at = checkpoint_position(fixture, "jobs").await;
    while changes.of_line(L3).map(|(_, positions)| positions.get("jobs").copied()) != Some(Some(jobs_at)) {
        assert!(Instant::now() < deadline, "the commit was never announced");
        tokio::task::yield_now().await;
    }
    (Arc::new(boards), kept, jobs_at)
}

/// Statements waiting for a lock on the Andon read model, which the board's statement reads.
const WAITING_ON_ANDON: &str = "SELECT count(*) FROM pg_locks WHERE relation = 'read_andon'::regclass AND NOT granted";

/// A request for L3's board, as a task.
fn reading(
    fixture: &Fixture,
    boards: &Arc<Boards>,
    staleness: Staleness,
) -> tokio::task::JoinHandle<Result<LineStatus, sqlx::Error>> {
    let (boards, pool) = (Arc::clone(boards), fixture.app.clone());
    tokio::spawn(async move { boards.status(&pool, L3, Utc::now(), staleness).await })
}

/// Locks the Andon read model until the returned transaction ends, and starts a request reading L3's
/// board; returns once its statement waits behind the lock.
async fn blocked_read(
    fixture: &Fixture,
    boards: &Arc<Boards>,
    staleness: Staleness,
) -> (sqlx::Transaction<'static, sqlx::Postgres>, tokio::task::JoinHandle<Result<LineStatus, sqlx::Error>>) {
    let mut blocker = fixture.owner.begin().await.unwrap();
    sqlx::query("LOCK TABLE read_andon IN ACCESS EXCLUSIVE MODE").execute(&mut *blocker).await.unwrap();
    let reader = reading(fixture, boards, staleness);
    let deadline = Instant::now() + DEADLINE;
    while sqlx::query_scalar::<_, i64>(WAITING_ON_ANDON).fetch_one(&fixture.owner).await.unwrap() == 0 {
        assert!(Instant::now() < deadline, "the first request never read");
        tokio::task::yield_now().await;
    }
    (blocker, reader)
}

#[tokio::test]
async fn a_poll_while_a_changed_board_is_read_again_gets_the_kept_board_with_its_own_freshness() {
    let fixture = fixture().await;
    let (boards, kept, jobs_at) = kept_then_changed(&fixture).await;

    // The board's statement waits behind a lock on the Andon read model while the first poll reads it.
    let (blocker, reader) = blocked_read(&fixture, &boards, Staleness::WhileReadAgain).await;
    let meanwhile = boards.status(&fixture.app, L3, Utc::now(), Staleness::WhileReadAgain);
    let meanwhile = tokio::time::timeout(DEADLINE, meanwhile)
        .await
        .unwrap_or_else(|_| panic!("the poll waited for the read"))
        .unwrap();
    assert_eq!(meanwhile.job, kept.job, "the kept board");
    assert!(position_of(&meanwhile, "jobs") < jobs_at, "says it is from before the commit: {meanwhile:?}");

    blocker.rollback().await.unwrap();
    let read_again = reader.await.unwrap().unwrap();
    assert_eq!(read_again.job.as_ref().map(|job| job.good), Some(7));
    assert_eq!(position_of(&read_again, "jobs"), jobs_at);
}

#[tokio::test]
async fn the_live_streams_of_a_changed_line_wait_for_one_read_of_its_board_instead_of_each_reading_it() {
    let fixture = fixture().await;
    let (boards, _, jobs_at) = kept_then_changed(&fixture).await;
    let before = boards.reads();

    // The first stream's read waits behind a lock on the Andon read model; twenty more streams ask meanwhile.
    let (blocker, first) = blocked_read(&fixture, &boards, Staleness::Never).await;
    let stream = || reading(&fixture, &boards, Staleness::Never);
    let deadline = Instant::now() + DEADLINE;
    let others: Vec<_> = (0..20).map(|_| stream()).collect();
    while boards.reads().shared < before.shared + 20 {
        assert!(Instant::now() < deadline, "the streams did not wait for the read: {:?}", boards.reads());
        tokio::task::yield_now().await;
    }
    let blocked: i64 = sqlx::query_scalar(WAITING_ON_ANDON).fetch_one(&fixture.owner).await.unwrap();
    assert_eq!(blocked, 1, "one statement reads the board");

    blocker.rollback().await.unwrap();
    for stream in std::iter::once(first).chain(others) {
        let status = stream.await.unwrap().unwrap();
        assert_eq!(status.job.as_ref().map(|job| job.good), Some(7), "every stream gets the changed board");
        assert_eq!(position_of(&status, "jobs"), jobs_at);
    }
    assert_eq!(boards.reads().read, before.read + 1, "{:?}", boards.reads());
}

#[tokio::test]
async fn a_subscription_to_a_line_hears_of_the_commits_that_name_it_and_not_of_the_others() {
    let fixture = fixture().await;
    let (changes, _boards) = listening(&fixture).await;
    let mut of_l3 = changes.subscribe_to_line(L3);
    let mut of_all = changes.subscribe();
    assert_eq!(changes.subscribers(), 2);
    let store = fixture.jobs();
    running_job_on(&store, L4, "BOTTLE-500").await;
    fixture.caught_up(&Jobs).await;
    running_job_on(&store, L3, "BOTTLE-500").await;
    fixture.caught_up(&Jobs).await;

    let first_of_all = tokio::time::timeout(DEADLINE, of_all.recv()).await.unwrap().unwrap();
    assert!(first_of_all.names(L4) && !first_of_all.names(L3), "every commit, in order: {first_of_all:?}");
    let first_of_l3 = tokio::time::timeout(DEADLINE, of_l3.recv()).await.unwrap().unwrap();
    assert!(first_of_l3.names(L3) && !first_of_l3.names(L4), "the commit naming L4 was not sent: {first_of_l3:?}");

    drop((of_l3, of_all));
    assert_eq!(changes.subscribers(), 0);
}

#[tokio::test]
async fn a_stream_that_goes_away_while_it_reads_a_changed_board_leaves_the_waiting_ones_to_read_it() {
    let fixture = fixture().await;
    let (boards, _, jobs_at) = kept_then_changed(&fixture).await;
    let before = boards.reads();
    let (blocker, first) = blocked_read(&fixture, &boards, Staleness::Never).await;
    let second = reading(&fixture, &boards, Staleness::Never);
    let deadline = Instant::now() + DEADLINE;
    while boards.reads().shared < before.shared + 1 {
        assert!(Instant::now() < deadline, "the second stream did not wait for the read: {:?}", boards.reads());
        tokio::task::yield_now().await;
    }

    // The first stream's client disconnects halfway through its read: the waiting stream reads instead.
    first.abort();
    assert!(first.await.is_err_and(|error| error.is_cancelled()));
    blocker.rollback().await.unwrap();
    let status = tokio::time::timeout(DEADLINE, second)
        .await
        .unwrap_or_else(|_| panic!("the waiting stream was left waiting"))
        .unwrap()
        .unwrap();
    assert_eq!(status.job.as_ref().map(|job| job.good), Some(7));
    assert_eq!(position_of(&status, "jobs"), jobs_at);
    assert_eq!(boards.reads().read, before.read + 2, "the dropped read and the waiting stream's own");
}

#[tokio::test]
async fn when_the_notifications_are_lost_a_subscription_to_a_line_hears_that_every_line_may_have_changed() {
    let fixture = fixture().await;
    let (changes, _boards) = listening(&fixture).await;
    let mut of_l3 = changes.subscribe_to_line(L3);

    // The follower's connection is cut, as by a database restart: what it misses meanwhile is unknown.
    let terminated: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
    )
    .fetch_all(&fixture.owner)
    .await
    .unwrap();
    assert_eq!(terminated, [true], "one follower listens");

    let lost = tokio::time::timeout(DEADLINE, of_l3.recv()).await.unwrap().unwrap();
    assert!(lost.names(L3) && lost.names(L4), "every line may have changed: {lost:?}");
    let deadline = Instant::now() + DEADLINE;
    while changes.of_line(L3).is_none() {
        assert!(Instant::now() < deadline, "the follower never listened again");
        tokio::task::yield_now().await;
    }
    let again = tokio::time::timeout(DEADLINE, of_l3.recv()).await.unwrap().unwrap();
    assert!(again.names(L4), "listening again, it still knows nothing of the time between: {again:?}");
}
