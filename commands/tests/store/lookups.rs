use chrono::{Duration, Utc};
use commands::event_log::{StreamBound, read_stream};
use commands::execute;
use commands::lookups::{LookupError, StopStart, give_downtime_reason, start_checklist, start_downtime};
use domain::checklist::{Checklist, ChecklistTemplate, ChecklistTemplateCommand, ItemKind, TemplateItem};
use domain::downtime::{Downtime, DowntimeCommand, DowntimeError, StopClass, StopSource};
use domain::line::{Line, LineCommand, LineError};
use domain::values::{ChecklistItemId, EquipmentId, LossCategory, Millis, Name, Reason, ReasonCode};

use crate::support::{context, fixture, line};

fn name(text: &str) -> Name {
    Name::parse(text).unwrap()
}
fn code(text: &str) -> ReasonCode {
    ReasonCode::parse(text).unwrap()
}
fn reason(text: &str) -> Reason {
    Reason::parse(text).unwrap()
}

async fn registered_line(lines: &commands::PgEventStore<Line>) {
    let id = line().to_string();
    let commands = [
        LineCommand::Register { line: line(), name: name("Line 3"), time_zone: chrono_tz::Europe::Berlin },
        LineCommand::DefineDowntimeReason {
            code: code("jam"),
            label: name("Jam"),
            parent: None,
            loss_category: LossCategory::Unplanned,
            reason: None,
        },
        LineCommand::DefineDowntimeReason {
            code: code("changeover"),
            label: name("Changeover"),
            parent: None,
            loss_category: LossCategory::Setup,
            reason: None,
        },
    ];
    for command in commands {
        execute(lines, &id, command, &context()).await.unwrap();
    }
}

async fn stop_history(pool: &sqlx::PgPool) -> Vec<commands::event_log::RecordedEvent> {
    read_stream(pool, "downtime", "stop-1", StreamBound::All).await.expect("reading the stop")
}

fn stop_start(minutes_ago: i64) -> StopStart {
    StopStart {
        line: line(),
        equipment: None,
        source: StopSource::Operator,
        started_at: Utc::now() - Duration::minutes(minutes_ago),
    }
}

#[tokio::test]
async fn a_stop_is_classified_by_the_threshold_its_line_had_when_it_started() {
    let fixture = fixture().await;
    let (lines, stops) = (fixture.store::<Line>(), fixture.store::<Downtime>());
    registered_line(&lines).await;
    let one_minute = LineCommand::SetSmallStopThreshold {
        threshold: Millis::new(60_000).unwrap(),
        effective_from: Utc::now() - Duration::hours(1),
        reason: None,
    };
    execute(&lines, &line().to_string(), one_minute, &context()).await.unwrap();

    let start = stop_start(10);
    let ended_at = start.started_at + Duration::seconds(90);
    start_downtime(&lines, &stops, "stop-1", start, &context()).await.unwrap();
    let ended = execute(&stops, "stop-1", DowntimeCommand::End { ended_at }, &context()).await.unwrap();
    assert_eq!(ended.version, 2);
    let state = stops.state("stop-1").await.unwrap();
    let class = state.interval.and_then(|interval| interval.ended).map(|(_, class)| class);
    assert_eq!(class, Some(StopClass::Downtime), "90 s is past the line's 60 s threshold (the default is 120 s)");
}

#[tokio::test]
async fn a_stop_on_an_unknown_line_or_equipment_is_refused_and_writes_nothing() {
    let fixture = fixture().await;
    let (lines, stops) = (fixture.store::<Line>(), fixture.store::<Downtime>());
    let refused = start_downtime(&lines, &stops, "stop-1", stop_start(1), &context()).await;
    assert!(matches!(refused, Err(LookupError::Line(commands::CommandError::Rejected(LineError::NotRegistered)))));
    registered_line(&lines).await;
    let mut on_equipment = stop_start(1);
    on_equipment.equipment = EquipmentId::parse("capper").ok();
    let refused = start_downtime(&lines, &stops, "stop-1", on_equipment, &context()).await;
    assert!(matches!(refused, Err(LookupError::UnknownEquipment(_))));
    assert!(stop_history(&fixture.app).await.is_empty());
}

#[tokio::test]
async fn a_reason_code_a_stop_has_used_can_no_longer_be_redefined_and_a_change_keeps_the_old_code() {
    let fixture = fixture().await;
    let (lines, stops) = (fixture.store::<Line>(), fixture.store::<Downtime>());
    registered_line(&lines).await;
    start_downtime(&lines, &stops, "stop-1", stop_start(5), &context()).await.unwrap();
    give_downtime_reason(&lines, &stops, "stop-1", code("jam"), None, None, &context()).await.unwrap();

    let redefine = LineCommand::DefineDowntimeReason {
        code: code("jam"),
        label: name("Jam at infeed"),
        parent: None,
        loss_category: LossCategory::Planned,
        reason: Some(reason("make it planned")),
    };
    let refused = execute(&lines, &line().to_string(), redefine, &context()).await;
    assert!(matches!(refused, Err(commands::CommandError::Rejected(LineError::ReasonInUse(_)))), "{refused:?}");

    let unexplained = give_downtime_reason(&lines, &stops, "stop-1", code("changeover"), None, None, &context()).await;
    assert!(matches!(
        unexplained,
        Err(LookupError::Command(commands::CommandError::Rejected(DowntimeError::ReasonAlreadyAssigned)))
    ));
    give_downtime_reason(
        &lines,
        &stops,
        "stop-1",
        code("changeover"),
        Some(reason("was a changeover")),
        None,
        &context(),
    )
    .await
    .unwrap();
    let history = stop_history(&fixture.app).await;
    let changed = &history[2];
    assert_eq!(changed.event_type, "DowntimeReasonChanged");
    assert_eq!((changed.payload["from"].as_str(), changed.payload["to"].as_str()), (Some("jam"), Some("changeover")));
    assert_eq!(changed.metadata["reason"], "was a changeover");

    let unknown =
        give_downtime_reason(&lines, &stops, "stop-1", code("nope"), Some(reason("x")), None, &context()).await;
    assert!(matches!(unknown, Err(LookupError::Line(commands::CommandError::Rejected(LineError::UnknownReason(_))))));
    assert_eq!(stop_history(&fixture.app).await.len(), 3);
}

#[tokio::test]
async fn a_checklist_starts_from_the_current_template_version() {
    let fixture = fixture().await;
    let (templates, checklists) = (fixture.store::<ChecklistTemplate>(), fixture.store::<Checklist>());
    let refused = start_checklist(&templates, &checklists, "cl-1", "startup", None, &context()).await;
    assert!(matches!(refused, Err(LookupError::UnknownTemplate(_))));
    let item = |id: &str| TemplateItem {
        id: ChecklistItemId::parse(id).unwrap(),
        prompt: name(id),
        kind: ItemKind::Check,
        mandatory: true,
    };
    let define = |items: Vec<TemplateItem>, why: Option<Reason>| ChecklistTemplateCommand::Define {
        line: line(),
        product: None,
        name: name("Start-up"),
        items,
        reason: why,
    };
    execute(&templates, "startup", define(vec![item("guards")], None), &context()).await.unwrap();
    execute(
        &templates,
        "startup",
        define(vec![item("guards"), item("labels")], Some(reason("labels added"))),
        &context(),
    )
    .await
    .unwrap();
    start_checklist(&templates, &checklists, "cl-1", "startup", None, &context()).await.unwrap();
    let checklist = checklists.state("cl-1").await.unwrap();
    let template = checklist.template.expect("checklist has no template");
    assert_eq!((template.version, template.items.len()), (2, 2));
}
