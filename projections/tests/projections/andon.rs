//! The Andon board and response times, and the escalation scheduler.

use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use commands::event_log::{StreamBound, read_stream};
use commands::{PgEventStore, StoreSettings, execute};
use domain::andon::{AndonCall, AndonCommand, CallType, EscalationLadder, Priority, Tier};
use domain::line::{Line, LineCommand};
use domain::line_id::LineId;
use domain::oee::Interval;
use domain::values::{Description, Millis, Name, Reason, StationId};
use projections::processes::escalation::{escalate_due, run};
use projections::read_models::andon::{Calls, open_calls, response_times};
use tokio::sync::watch;

use crate::support::{DEADLINE, Fixture, context, fixture};

const LINE: &str = "plant-1/packing/L3";

fn raise(call_type: CallType) -> AndonCommand {
    AndonCommand::Raise {
        line: LineId::parse(LINE).unwrap(),
        station: StationId::parse("S1").unwrap(),
        call_type,
        priority: Priority::High,
        description: Description::parse("help").unwrap(),
    }
}

async fn act(calls: &PgEventStore<AndonCall>, id: &str, command: AndonCommand) {
    execute(calls, id, command, &context()).await.unwrap();
}

/// The call's level as its events say (a store's warm copy would not see another instance's appends).
async fn level(fixture: &Fixture, id: &str) -> u8 {
    let events = read_stream(&fixture.app, "andon", id, StreamBound::All).await.unwrap();
    commands::event_log::fold::<AndonCall>(&events).map(|call| call.level).unwrap_or(0)
}

#[tokio::test]
async fn the_board_shows_open_calls_and_response_times_count_what_was_answered() {
    let fixture = fixture().await;
    let calls = PgEventStore::new(fixture.app.clone(), StoreSettings::default());
    let description = |text: &str| Description::parse(text).unwrap();
    act(&calls, "resolved", raise(CallType::Maintenance)).await;
    act(&calls, "resolved", AndonCommand::Acknowledge).await;
    act(
        &calls,
        "resolved",
        AndonCommand::Resolve { resolution: description("fixed"), root_cause: description("wear") },
    )
    .await;
    act(&calls, "cancelled", raise(CallType::Maintenance)).await;
    act(&calls, "cancelled", AndonCommand::Cancel { reason: Reason::parse("by mistake").unwrap() }).await;
    act(&calls, "waiting", raise(CallType::Quality)).await;
    act(&calls, "taken", raise(CallType::Maintenance)).await;
    act(&calls, "taken", AndonCommand::Acknowledge).await;
    fixture.caught_up(&Calls).await;

    let board = open_calls(&fixture.app, LINE).await.unwrap();
    let open: Vec<(&str, &str)> = board.iter().map(|call| (call.call_id.as_str(), call.status.as_str())).collect();
    assert_eq!(open, [("waiting", "raised"), ("taken", "acknowledged")]);
    assert!(board.iter().all(|call| call.level == 1 && call.priority == "high"));

    let hour = Interval::new(Utc::now() - Duration::hours(1), Utc::now()).unwrap();
    let all = response_times(&fixture.app, LINE, hour).await.unwrap();
    assert_eq!(all.by_shift.len(), 1, "an unregistered line has no shifts: one group of every call");
    assert_eq!((&all.by_shift[0].shift, &all.by_shift[0].by_call_type), (&None, &all.by_call_type));
    let times = all.by_call_type;
    let counts: Vec<(&str, usize, usize, usize)> =
        times.iter().map(|t| (t.call_type.as_str(), t.calls, t.acknowledged, t.resolved)).collect();
    assert_eq!(counts, [("maintenance", 3, 2, 1), ("quality", 1, 0, 0)]);
    assert!(times[0].mean_seconds_to_acknowledge.is_some_and(|s| s >= 0.0));
    assert!(times[0].mean_seconds_to_resolve.is_some_and(|s| s >= 0.0));
    assert_eq!((times[1].mean_seconds_to_acknowledge, times[1].mean_seconds_to_resolve), (None, None));
}

/// Registers the line with a ladder for safety, material and other calls: L2 a millisecond after the
/// raise when unacknowledged; L3 when unresolved after an hour. Other call types keep the default ladder.
async fn line_with_ladder(fixture: &Fixture) {
    let ms = |ms| Millis::new(ms).unwrap();
    let ladder = EscalationLadder::new(vec![
        Tier { level: 2, unacknowledged_after: Some(ms(1)), unresolved_after: None },
        Tier { level: 3, unacknowledged_after: None, unresolved_after: Some(ms(3_600_000)) },
    ])
    .unwrap();
    let lines: PgEventStore<Line> = PgEventStore::new(fixture.app.clone(), StoreSettings::default());
    let line = LineId::parse(LINE).unwrap();
    let name = Name::parse("Line 3").unwrap();
    let mut commands = vec![LineCommand::Register { line, name, time_zone: chrono_tz::Europe::Berlin }];
    for call_type in [CallType::Safety, CallType::Material, CallType::Other] {
        commands.push(LineCommand::SetEscalationLadder {
            call_type,
            ladder: ladder.clone(),
            effective_from: Utc::now() - Duration::days(1),
            reason: None,
        });
    }
    for command in commands {
        execute(&lines, LINE, command, &context()).await.unwrap();
    }
}

#[tokio::test]
async fn due_tiers_of_each_call_types_ladder_are_escalated_by_the_scheduler_in_its_own_name_and_nothing_early() {
    let fixture = fixture().await;
    line_with_ladder(&fixture).await;
    let calls = PgEventStore::new(fixture.app.clone(), StoreSettings::default());
    act(&calls, "unanswered", raise(CallType::Safety)).await;
    act(&calls, "answered", raise(CallType::Material)).await;
    act(&calls, "answered", AndonCommand::Acknowledge).await;
    act(&calls, "default-ladder", raise(CallType::Quality)).await;
    fixture.caught_up(&Calls).await;

    let scheduler_calls = PgEventStore::new(fixture.app.clone(), StoreSettings::default());
    let now = Utc::now() + Duration::seconds(1);
    let escalate_at = async |at| escalate_due(&fixture.app, &scheduler_calls, at).await.unwrap();
    assert_eq!(escalate_at(now).await, 1, "only the unacknowledged safety call's first tier is due");
    assert_eq!(escalate_at(now).await, 0);
    assert_eq!(escalate_at(now + Duration::hours(2)).await, 5);
    let levels = [
        level(&fixture, "unanswered").await,
        level(&fixture, "answered").await,
        level(&fixture, "default-ladder").await,
    ];
    assert_eq!(levels, [3, 3, 4], "the acknowledged call skipped the acknowledgement tier; quality went to L4");

    let history = read_stream(&fixture.app, "andon", "unanswered", StreamBound::All).await.unwrap();
    let escalation = &history[1];
    assert_eq!(escalation.event_type, "AndonEscalated");
    assert_eq!(escalation.metadata["actor_name"], "Andon escalation scheduler");
    assert_eq!(escalation.metadata["actor_role"], "system");
}

#[tokio::test]
async fn a_scheduler_started_later_escalates_what_fell_due_while_none_ran() {
    let fixture = fixture().await;
    line_with_ladder(&fixture).await;
    let calls = PgEventStore::new(fixture.app.clone(), StoreSettings::default());
    act(&calls, "raised-while-down", raise(CallType::Other)).await;
    fixture.caught_up(&Calls).await;
    let (_stop, stopped) = watch::channel(false);
    tokio::spawn(run(fixture.app.clone(), StdDuration::from_millis(50), stopped));
    let deadline = Instant::now() + DEADLINE;
    let mut reached = 1;
    while reached < 2 && Instant::now() < deadline {
        reached = level(&fixture, "raised-while-down").await;
        tokio::task::yield_now().await;
    }
    assert_eq!(reached, 2);
}
