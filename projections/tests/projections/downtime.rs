//! The downtime read model: stops listed with their reasons, and Paretos of ended downtime.

use chrono::{Duration, Utc};
use commands::execute;
use commands::lookups::{StopStart, give_downtime_reason, start_downtime};
use domain::downtime::{DowntimeCommand, StopSource};
use domain::line::LineCommand;
use domain::line_id::LineId;
use domain::values::{LossCategory, Name, ReasonCode};
use projections::read_models::downtime::{ParetoBar, ParetoBy, StopFilter, Stops, list, pareto, reliability};

use crate::support::{context, fixture};

fn line() -> LineId {
    LineId::parse("plant-1/packing/L3").unwrap()
}

#[tokio::test]
async fn stops_are_listed_with_their_reasons_and_ended_downtime_makes_the_paretos() {
    let fixture = fixture().await;
    let lines = commands::PgEventStore::new(fixture.app.clone(), commands::StoreSettings::default());
    let stops = commands::PgEventStore::new(fixture.app.clone(), commands::StoreSettings::default());
    let name = |text: &str| Name::parse(text).unwrap();
    let code = |text: &str| ReasonCode::parse(text).unwrap();
    let register = LineCommand::Register { line: line(), name: name("Line 3"), time_zone: chrono_tz::Europe::Berlin };
    execute(&lines, &line().to_string(), register, &context()).await.unwrap();
    for (reason, category) in [("jam", LossCategory::Unplanned), ("changeover", LossCategory::Setup)] {
        let define = LineCommand::DefineDowntimeReason {
            code: code(reason),
            label: name(reason),
            parent: None,
            loss_category: category,
            reason: None,
        };
        execute(&lines, &line().to_string(), define, &context()).await.unwrap();
    }
    let start = Utc::now() - Duration::hours(2);
    // (minutes after `start`, minutes long, reason): two jams, one changeover, one unexplained, one small
    // stop (under the default threshold), and one still open.
    let plan: [(i64, Option<i64>, Option<&str>); 6] = [
        (0, Some(10), Some("jam")),
        (15, Some(20), Some("changeover")),
        (40, Some(5), Some("jam")),
        (50, Some(3), None),
        (60, Some(0), None),
        (70, None, None),
    ];
    for (index, (offset, minutes, reason)) in plan.into_iter().enumerate() {
        let id = format!("stop-{index}");
        let started_at = start + Duration::minutes(offset);
        let stop = StopStart { line: line(), equipment: None, source: StopSource::Operator, started_at };
        start_downtime(&lines, &stops, &id, stop, &context()).await.unwrap();
        if let Some(reason) = reason {
            give_downtime_reason(&lines, &stops, &id, code(reason), None, None, &context()).await.unwrap();
        }
        if let Some(minutes) = minutes {
            let ended_at =
                started_at + Duration::minutes(minutes) + Duration::seconds(if minutes == 0 { 30 } else { 0 });
            execute(&stops, &id, DowntimeCommand::End { ended_at }, &context()).await.unwrap();
        }
    }
    fixture.caught_up(&Stops).await;

    let filter =
        StopFilter { line: line().to_string(), from: start, to: Utc::now(), open_only: false, after: None, limit: 100 };
    let all = list(&fixture.app, &filter).await.unwrap();
    assert_eq!(all.len(), 6);
    assert_eq!(all[1].reason_code.as_deref(), Some("changeover"));
    assert_eq!((all[1].loss_category.as_str(), all[1].duration_ms), ("setup", Some(20 * 60_000)));
    assert_eq!(all[4].class.as_deref(), Some("small_stop"));
    assert_eq!((all[5].ended_at, all[5].loss_category.as_str()), (None, "unplanned"), "open and unexplained");
    let open = list(&fixture.app, &StopFilter { open_only: true, ..filter.clone() }).await.unwrap();
    assert_eq!(open.iter().map(|s| s.downtime_id.as_str()).collect::<Vec<_>>(), ["stop-5"]);
    let page = list(
        &fixture.app,
        &StopFilter { after: Some((all[1].started_at, all[1].downtime_id.clone())), limit: 2, ..filter },
    )
    .await
    .unwrap();
    assert_eq!(page.iter().map(|s| s.downtime_id.as_str()).collect::<Vec<_>>(), ["stop-2", "stop-3"]);

    let bar = |key: &str, stops: i64, minutes: i64| ParetoBar { key: key.into(), stops, duration_ms: minutes * 60_000 };
    let by_reason = pareto(&fixture.app, &line().to_string(), start, Utc::now(), ParetoBy::Reason).await.unwrap();
    assert_eq!(by_reason, [bar("changeover", 1, 20), bar("jam", 2, 15), bar("unexplained", 1, 3)]);
    let by_category =
        pareto(&fixture.app, &line().to_string(), start, Utc::now(), ParetoBy::LossCategory).await.unwrap();
    assert_eq!(by_category, [bar("setup", 1, 20), bar("unplanned", 3, 18)]);

    // Failures: the three unplanned ended stops (10 + 5 + 3 minutes); the 20-minute changeover is
    // downtime but no failure. Over two hours: MTTR 6 minutes, MTBF (120 - 38) / 3 minutes.
    let window = reliability(&fixture.app, &line().to_string(), start, start + Duration::hours(2)).await.unwrap();
    let minute = 60_000.0;
    assert_eq!((window.failures, window.failure_ms, window.downtime_ms), (3, 18 * 60_000, 38 * 60_000));
    assert_eq!(window.mttr_ms, Some(6.0 * minute));
    assert_eq!(window.mtbf_ms, Some((120.0 - 38.0) * minute / 3.0));
    let quiet = reliability(&fixture.app, &line().to_string(), start - Duration::hours(3), start).await.unwrap();
    assert_eq!((quiet.failures, quiet.mttr_ms, quiet.mtbf_ms), (0, None, None), "no failure: undefined, not zero");
}

#[tokio::test]
async fn at_04_a_voided_stop_leaves_the_downtime_and_oee_read_models_alike() {
    let fixture = fixture().await;
    let lines = commands::PgEventStore::new(fixture.app.clone(), commands::StoreSettings::default());
    let stops = commands::PgEventStore::new(fixture.app.clone(), commands::StoreSettings::default());
    let register =
        LineCommand::Register { line: line(), name: Name::parse("Line 3").unwrap(), time_zone: chrono_tz::UTC };
    execute(&lines, &line().to_string(), register, &context()).await.unwrap();
    let started_at = Utc::now() - Duration::hours(1);
    for id in ["kept", "void"] {
        let stop = StopStart { line: line(), equipment: None, source: StopSource::Operator, started_at };
        start_downtime(&lines, &stops, id, stop, &context()).await.unwrap();
        let end = DowntimeCommand::End { ended_at: started_at + Duration::minutes(10) };
        execute(&stops, id, end, &context()).await.unwrap();
    }
    let void = DowntimeCommand::Void { reason: domain::values::Reason::parse("recorded twice").unwrap() };
    execute(&stops, "void", void, &context()).await.unwrap();
    fixture.caught_up(&Stops).await;
    fixture.caught_up(&projections::read_models::oee::Oee).await;
    for table in ["read_downtime", "read_oee_stops"] {
        let ids: Vec<String> = sqlx::query_scalar(&format!("SELECT downtime_id FROM {table} ORDER BY downtime_id"))
            .fetch_all(&fixture.owner)
            .await
            .unwrap();
        assert_eq!(ids, ["kept"], "{table}");
    }
}
