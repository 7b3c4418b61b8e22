//! The Andon board and response times, and the escalation scheduler.

use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use commands::event_log::{StreamBound, read_stream};
use commands::{PgEventStore, StoreSettings, execute};
use domain::andon::{AndonCall, AndonCommand, CallType, EscalationLadder, Priority, Tier};
use domain::line_id::LineId;
use domain::values::{Description, Reason, StationId};
use projections::andon::{Calls, open_calls, response_times};
use projections::escalation::{escalate_due, run};
use tokio::sync::watch;

use crate::support::{DEADLINE, Fixture, context, fixture};

const LINE: &str = "plant-1/packing/L3";

fn raise(call_type: CallType) -> AndonCommand {
    AndonCommand::Raise {
        line: LineId::parse(LINE).unwrap_or_else(|_| panic!()),
        station: StationId::parse("S1").unwrap_or_else(|_| panic!()),
        call_type,
        priority: Priority::High,
        description: Description::parse("help").unwrap_or_else(|_| panic!()),
    }
}

async fn act(calls: &PgEventStore<AndonCall>, id: &str, command: AndonCommand) {
    execute(calls, id, command, &context()).await.unwrap_or_else(|e| panic!("{e}"));
}

/// The call's level as its events say (a store's warm copy would not see another instance's appends).
async fn level(fixture: &Fixture, id: &str) -> u8 {
    let events = read_stream(&fixture.app, "andon", id, StreamBound::All).await.unwrap_or_else(|e| panic!("{e}"));
    commands::event_log::fold::<AndonCall>(&events).map(|call| call.level).unwrap_or(0)
}

#[tokio::test]
async fn the_board_shows_open_calls_and_response_times_count_what_was_answered() {
    let fixture = fixture().await;
    let calls = PgEventStore::new(fixture.app.clone(), StoreSettings::default());
    let description = |text: &str| Description::parse(text).unwrap_or_else(|_| panic!());
    act(&calls, "resolved", raise(CallType::Maintenance)).await;
    act(&calls, "resolved", AndonCommand::Acknowledge).await;
    act(
        &calls,
        "resolved",
        AndonCommand::Resolve { resolution: description("fixed"), root_cause: description("wear") },
    )
    .await;
    act(&calls, "cancelled", raise(CallType::Maintenance)).await;
    act(&calls, "cancelled", AndonCommand::Cancel { reason: Reason::parse("by mistake").unwrap_or_else(|_| panic!()) })
        .await;
    act(&calls, "waiting", raise(CallType::Quality)).await;
    act(&calls, "taken", raise(CallType::Maintenance)).await;
    act(&calls, "taken", AndonCommand::Acknowledge).await;
    fixture.caught_up(&Calls).await;

    let board = open_calls(&fixture.app, LINE).await.unwrap_or_else(|e| panic!("{e}"));
    let open: Vec<(&str, &str)> = board.iter().map(|call| (call.call_id.as_str(), call.status.as_str())).collect();
    assert_eq!(open, [("waiting", "raised"), ("taken", "acknowledged")]);
    assert!(board.iter().all(|call| call.level == 1 && call.priority == "high"));

    let times = response_times(&fixture.app, LINE, Utc::now() - Duration::hours(1), Utc::now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let counts: Vec<(&str, i64, i64, i64)> =
        times.iter().map(|t| (t.call_type.as_str(), t.calls, t.acknowledged, t.resolved)).collect();
    assert_eq!(counts, [("maintenance", 3, 2, 1), ("quality", 1, 0, 0)]);
    assert!(times[0].mean_seconds_to_acknowledge.is_some_and(|s| s >= 0.0));
    assert!(times[0].mean_seconds_to_resolve.is_some_and(|s| s >= 0.0));
    assert_eq!((times[1].mean_seconds_to_acknowledge, times[1].mean_seconds_to_resolve), (None, None));
}

/// L2 at once when unacknowledged; L3 when unresolved after an hour.
fn ladder() -> EscalationLadder {
    EscalationLadder {
        tiers: vec![
            Tier { level: 2, unacknowledged_after: Some(Duration::zero()), unresolved_after: None },
            Tier { level: 3, unacknowledged_after: None, unresolved_after: Some(Duration::hours(1)) },
        ],
    }
}

#[tokio::test]
async fn due_tiers_are_escalated_by_the_scheduler_in_its_own_name_and_nothing_early() {
    let fixture = fixture().await;
    let calls = PgEventStore::new(fixture.app.clone(), StoreSettings::default());
    act(&calls, "unanswered", raise(CallType::Safety)).await;
    act(&calls, "answered", raise(CallType::Material)).await;
    act(&calls, "answered", AndonCommand::Acknowledge).await;
    fixture.caught_up(&Calls).await;

    let scheduler_calls = PgEventStore::new(fixture.app.clone(), StoreSettings::default());
    let now = Utc::now();
    assert_eq!(escalate_due(&fixture.app, &scheduler_calls, &ladder(), now).await.unwrap_or_else(|e| panic!("{e}")), 1);
    assert_eq!(escalate_due(&fixture.app, &scheduler_calls, &ladder(), now).await.unwrap_or_else(|e| panic!("{e}")), 0);
    let later = now + Duration::hours(2);
    assert_eq!(
        escalate_due(&fixture.app, &scheduler_calls, &ladder(), later).await.unwrap_or_else(|e| panic!("{e}")),
        2
    );
    let levels = [level(&fixture, "unanswered").await, level(&fixture, "answered").await];
    assert_eq!(levels, [3, 3], "the acknowledged call skipped the acknowledgement tier");

    let history =
        read_stream(&fixture.app, "andon", "unanswered", StreamBound::All).await.unwrap_or_else(|e| panic!("{e}"));
    let escalation = &history[1];
    assert_eq!(escalation.event_type, "AndonEscalated");
    assert_eq!(escalation.metadata["actor_name"], "Andon escalation scheduler");
    assert_eq!(escalation.metadata["actor_role"], "system");
}

#[tokio::test]
async fn a_scheduler_started_later_escalates_what_fell_due_while_none_ran() {
    let fixture = fixture().await;
    let calls = PgEventStore::new(fixture.app.clone(), StoreSettings::default());
    act(&calls, "raised-while-down", raise(CallType::Other)).await;
    fixture.caught_up(&Calls).await;
    let (_stop, stopped) = watch::channel(false);
    tokio::spawn(run(fixture.app.clone(), ladder(), StdDuration::from_millis(50), stopped));
    let deadline = Instant::now() + DEADLINE;
    let mut reached = 1;
    while reached < 2 && Instant::now() < deadline {
        reached = level(&fixture, "raised-while-down").await;
        tokio::task::yield_now().await;
    }
    assert_eq!(reached, 2);
}
