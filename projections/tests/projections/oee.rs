//! The OEE read model: docs/oee.md's worked example scripted as a real shift through commands, then read
//! per shift, day and hour; and an ideal cycle time version that takes effect in the past.

use chrono::{DateTime, NaiveTime, Timelike as _, Utc};
use commands::execute;
use commands::lookups::{StopStart, give_downtime_reason, record_production, start_downtime};
use domain::downtime::{DowntimeCommand, StopSource};
use domain::job::JobCommand;
use domain::line::{LineCommand, PlannedBreak, ShiftDefinition};
use domain::line_id::LineId;
use domain::oee::{Interval, Ratio};
use domain::values::{LossCategory, Millis, Name, ProductId, Reason, ReasonCode, RejectCategory, ShiftName};
use projections::read_models::oee::Oee;
use projections::read_models::oee::query::{Granularity, LineOee, line_oee};

use crate::support::{Fixture, context, fixture, running_job, running_job_on};

const MINUTE: u64 = 60_000;

fn line() -> LineId {
    LineId::parse("plant-1/packing/L3").unwrap()
}
fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).unwrap_or_else(|e| panic!("{text}: {e}"))
}
/// 2 March 2026 in Berlin (UTC+1), local wall-clock time.
fn local(hhmm: &str) -> DateTime<Utc> {
    at(&format!("2026-03-02T{hhmm}:00+01:00"))
}
fn time(hhmm: &str) -> NaiveTime {
    NaiveTime::parse_from_str(hhmm, "%H:%M").unwrap()
}
fn minutes(n: u64) -> Millis {
    Millis::new(n * MINUTE).unwrap()
}
fn bp(ratio: Option<Ratio>) -> Option<u128> {
    ratio.map(Ratio::basis_points)
}

/// The line with one early shift (06:00-14:00, breaks of 15, 30 and 15 minutes), a jam reason, and an
/// ideal cycle time of 1.0 s for BOTTLE-500, all in force since 1 January.
async fn configured_line(fixture: &Fixture) -> commands::PgEventStore<domain::line::Line> {
    let lines = commands::PgEventStore::new(fixture.app.clone(), commands::StoreSettings::default());
    let name = |text: &str| Name::parse(text).unwrap();
    let early = ShiftDefinition {
        name: ShiftName::parse("early").unwrap(),
        start: time("06:00"),
        end: time("14:00"),
        breaks: [("08:00", 15), ("10:00", 30), ("12:00", 15)]
            .map(|(start, length)| PlannedBreak { start: time(start), duration: minutes(length) })
            .to_vec(),
        days: domain::line::Weekdays::default(),
    };
    let since = at("2026-01-01T00:00:00Z");
    let setup = [
        LineCommand::Register { line: line(), name: name("Line 3"), time_zone: chrono_tz::Europe::Berlin },
        LineCommand::SetShiftCalendar { shifts: vec![early], effective_from: since, reason: None },
        LineCommand::SetIdealCycleTime {
            product: ProductId::parse("BOTTLE-500").unwrap(),
            ideal_cycle_time: Millis::new(1_000).unwrap(),
            effective_from: since,
            reason: None,
        },
        LineCommand::DefineDowntimeReason {
            code: ReasonCode::parse("jam").unwrap(),
            label: name("Jam"),
            parent: None,
            loss_category: LossCategory::Unplanned,
            reason: None,
        },
        LineCommand::DefineRejectReason {
            code: ReasonCode::parse("warm-up").unwrap(),
            label: name("Sealer warming up"),
            parent: None,
            category: RejectCategory::Startup,
            reason: None,
        },
        LineCommand::DefineRejectReason {
            code: ReasonCode::parse("crushed").unwrap(),
            label: name("Crushed"),
            parent: None,
            category: RejectCategory::Production,
            reason: None,
        },
    ];
    for command in setup {
        execute(&lines, &line().to_string(), command, &context()).await.unwrap();
    }
    lines
}

/// docs/oee.md's example: 47 minutes of jams, 19,271 units of which 423 rejects (the first 100 while
/// the sealer warmed up: start-up rejects), made during the shift (each record carries the time it was
/// made at the source), and 50 more units after the shift.
async fn scripted_shift(fixture: &Fixture, lines: &commands::PgEventStore<domain::line::Line>) {
    let stops = commands::PgEventStore::new(fixture.app.clone(), commands::StoreSettings::default());
    for (id, from, to) in [("jam-1", "07:00", "07:40"), ("jam-2", "11:00", "11:07")] {
        let start = StopStart { line: line(), equipment: None, source: StopSource::Operator, started_at: local(from) };
        start_downtime(lines, &stops, id, start, &context()).await.unwrap();
        let jam = ReasonCode::parse("jam").unwrap();
        give_downtime_reason(lines, &stops, id, jam, None, None, &context()).await.unwrap();
        let end = DowntimeCommand::End { ended_at: local(to) };
        execute(&stops, id, end, &context()).await.unwrap();
    }
    let jobs = fixture.jobs();
    let job = running_job(&jobs).await;
    let made =
        [("06:30", 5_000, 100), ("09:00", 5_000, 100), ("11:30", 5_000, 100), ("13:30", 3_848, 123), ("15:00", 50, 0)];
    for (hhmm, good, reject) in made {
        let why = if hhmm == "06:30" { "warm-up" } else { "crushed" };
        let reject_reason = (reject > 0).then(|| ReasonCode::parse(why).unwrap());
        let mut context = context();
        context.source_timestamp = Some(local(hhmm));
        record_production(lines, &jobs, &job, (good, reject), reject_reason, &context).await.unwrap();
    }
}

async fn read(fixture: &Fixture, granularity: Granularity) -> LineOee {
    let day = Interval::new(local("00:00"), at("2026-03-03T00:00:00+01:00")).unwrap();
    line_oee(&fixture.app, &line().to_string(), day, granularity, Utc::now())
        .await
        .unwrap()
        .expect("the line is in the read model")
}

#[tokio::test]
async fn the_published_example_scripted_as_a_shift_gives_the_published_figures() {
    let fixture = fixture().await;
    let lines = configured_line(&fixture).await;
    scripted_shift(&fixture, &lines).await;
    fixture.caught_up(&Oee).await;

    let shifts = read(&fixture, Granularity::Shift).await;
    assert_eq!(shifts.periods.len(), 1);
    let early = &shifts.periods[0].oee;
    assert_eq!((early.inputs.planned_production_ms, early.inputs.run_ms), (420 * MINUTE, 373 * MINUTE));
    assert_eq!(
        (early.inputs.total_count, early.inputs.good_count),
        (19_271, 18_848),
        "the 50 after the shift stay out"
    );
    let figures = early.figures;
    assert_eq!(
        [bp(figures.availability), bp(figures.performance), bp(figures.quality), bp(figures.oee)],
        [Some(8881), Some(8611), Some(9780), Some(7479)]
    );
    assert_eq!(early.downtime_ms.get("unplanned"), Some(&(47 * MINUTE)));
    assert_eq!(early.downtime_by_reason_ms.get("jam"), Some(&(47 * MINUTE)));
    assert_eq!(shifts.periods[0].shift.as_deref(), Some("early"));
    // Its loss tree: 47 min of stops, 373 - 19,271 s of slow cycles, the warm-up's 100 rejects as
    // start-up rejects and the other 323 as production rejects, 18,848 s fully productive: 420 min.
    let tree = early.loss_tree();
    assert_eq!((tree.unplanned_stop_ms, tree.setup_ms, tree.small_stop_ms), (47 * MINUTE, 0, 0));
    assert_eq!(tree.slow_cycle_ms, i128::from(373 * MINUTE) - 19_271_000);
    assert_eq!((tree.startup_rejects, tree.production_rejects), (100, 323));
    assert_eq!((tree.startup_reject_ms, tree.production_reject_ms), (100_000, 323_000));
    assert_eq!(tree.parts_ms().iter().map(|(_, ms)| ms).sum::<i128>(), i128::from(420 * MINUTE));

    let days = read(&fixture, Granularity::Day).await;
    assert_eq!(days.periods.len(), 1);
    // The shift's own calendar time is its 480 minutes; the day's is its 1,440.
    assert_eq!(early.inputs.calendar_ms, 480 * MINUTE);
    let whole_day = domain::oee::OeeInputs { calendar_ms: 1_440 * MINUTE, ..early.inputs };
    assert_eq!(days.periods[0].oee.inputs, whole_day, "a day is the sum of its shifts, over its whole time");

    let hours = read(&fixture, Granularity::Hour).await;
    assert_eq!(hours.periods.len(), 24);
    assert_eq!(hours.total.inputs, whole_day, "hours outside the shift have no planned time; their time stays in");
    let eight = &hours.periods[8].oee;
    assert_eq!(
        (eight.inputs.planned_production_ms, eight.scheduled_ms),
        (45 * MINUTE, 45 * MINUTE),
        "08:00-09:00 less its break"
    );
    let fifteen = &hours.periods[15].oee;
    assert_eq!((fifteen.inputs.total_count, fifteen.figures.oee), (50, None), "15:00: units made, no planned time");
}

#[tokio::test]
async fn rc_03_an_ideal_cycle_time_version_that_takes_effect_in_the_past_prices_later_units() {
    let fixture = fixture().await;
    let lines = configured_line(&fixture).await;
    scripted_shift(&fixture, &lines).await;
    let slower = LineCommand::SetIdealCycleTime {
        product: ProductId::parse("BOTTLE-500").unwrap(),
        ideal_cycle_time: Millis::new(2_000).unwrap(),
        effective_from: local("11:00"),
        reason: Some(Reason::parse("format parts changed on 2 March").unwrap()),
    };
    execute(&lines, &line().to_string(), slower, &context()).await.unwrap();
    fixture.caught_up(&Oee).await;

    let early = read(&fixture, Granularity::Shift).await.periods.remove(0).oee;
    // 10,200 units before 11:00 at 1 s, 9,071 after at 2 s.
    assert_eq!(early.inputs.ideal_total_ms, 10_200 * 1_000 + 9_071 * 2_000);
    assert_eq!(bp(early.figures.performance), Some(12_664));
    assert!(early.figures.performance_above_ideal, "kept uncapped and flagged");
}

/// Every read model takes the largest counts the domain accepts, at the longest ideal cycle time, and
/// the OEE query still answers exactly: sums of units times cycle times are far beyond a bigint.
#[tokio::test]
async fn the_largest_accepted_counts_at_the_longest_ideal_cycle_time_pass_every_projection_and_query() {
    let fixture = fixture().await;
    let lines = configured_line(&fixture).await;
    let longest = LineCommand::SetIdealCycleTime {
        product: ProductId::parse("BOTTLE-500").unwrap(),
        ideal_cycle_time: Millis::new(Millis::MAX).unwrap(),
        effective_from: at("2026-01-02T00:00:00Z"),
        reason: Some(Reason::parse("worst case").unwrap()),
    };
    execute(&lines, &line().to_string(), longest, &context()).await.unwrap();
    let jobs = fixture.jobs();
    let job = running_job(&jobs).await;
    const RECORDS: u64 = 20;
    for record in 0..RECORDS {
        let mut context = context();
        context.source_timestamp = Some(local("07:00") + chrono::Duration::minutes(i64::try_from(record).unwrap_or(0)));
        let reject_reason = ReasonCode::parse("warm-up").ok();
        let max = domain::values::Units::MAX;
        record_production(&lines, &jobs, &job, (max, max), reject_reason, &context).await.unwrap();
    }
    let max = i64::try_from(domain::values::Units::MAX).unwrap_or(0);
    let correction = JobCommand::CorrectProduction {
        good_delta: -max,
        reject_delta: 0,
        reason: Reason::parse("double booking").unwrap(),
    };
    // Booked when it is made (now), so outside the day read below; the jobs read model takes it.
    execute(&jobs, &job, correction, &context()).await.unwrap();
    fixture.caught_up(&Oee).await;
    fixture.caught_up(&projections::read_models::jobs::Jobs).await;
    fixture.caught_up(&projections::read_models::downtime::Stops).await;
    fixture.caught_up(&projections::read_models::andon::Calls).await;

    let units = u128::from(domain::values::Units::MAX);
    let (total, good) = (units * u128::from(RECORDS) * 2, units * u128::from(RECORDS));
    for granularity in [Granularity::Shift, Granularity::Day, Granularity::Hour] {
        let read = read(&fixture, granularity).await;
        let inputs = read.total.inputs;
        assert_eq!((u128::from(inputs.total_count), u128::from(inputs.good_count)), (total, good));
        assert_eq!(inputs.ideal_total_ms, total * u128::from(Millis::MAX), "exact, past any bigint");
        let rejects = i128::try_from(total - good).unwrap_or(0);
        assert_eq!(read.total.loss_tree().startup_reject_ms, rejects * i128::from(Millis::MAX), "start-up rejects too");
    }
    let good_in_jobs: i64 = sqlx::query_scalar("SELECT good FROM read_jobs WHERE job_id = $1")
        .bind(&job)
        .fetch_one(&fixture.app)
        .await
        .unwrap();
    assert_eq!(u128::try_from(good_in_jobs).ok(), Some(good - units), "less the correction");
}

#[tokio::test]
async fn a_day_is_measured_over_its_local_length_across_daylight_saving_for_utilization_and_teep() {
    let fixture = fixture().await;
    configured_line(&fixture).await;
    fixture.caught_up(&Oee).await;
    // Berlin's clocks go forward on 29 March 2026 and back on 25 October: days of 23 and 25 hours,
    // each holding one early shift of 420 planned minutes.
    for (midnight, next, hours) in [
        ("2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", 23),
        ("2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00", 25),
        ("2026-03-02T00:00:00+01:00", "2026-03-03T00:00:00+01:00", 24),
    ] {
        let day = Interval::new(at(midnight), at(next)).unwrap();
        let oee =
            line_oee(&fixture.app, &line().to_string(), day, Granularity::Day, Utc::now()).await.unwrap().unwrap();
        let inputs = oee.periods[0].oee.inputs;
        assert_eq!(
            (inputs.calendar_ms, inputs.planned_production_ms),
            (hours * 60 * MINUTE, 420 * MINUTE),
            "{midnight}"
        );
        let utilization = oee.periods[0].oee.figures.utilization.unwrap();
        assert_eq!(
            (utilization.numerator, utilization.denominator),
            (u128::from(420 * MINUTE), u128::from(hours * 60 * MINUTE))
        );
        let teep = oee.periods[0].oee.figures.teep.map(domain::oee::Ratio::basis_points);
        assert_eq!(teep, Some(0), "nothing made: 0, as OEE");
    }
}

#[tokio::test]
async fn weeks_and_months_sum_their_shifts_over_their_whole_local_time() {
    let fixture = fixture().await;
    configured_line(&fixture).await;
    fixture.caught_up(&Oee).await;
    let read = |from: &str, to: &str, granularity| {
        let range = Interval::new(at(from), at(to)).unwrap();
        let app = fixture.app.clone();
        async move { line_oee(&app, &line().to_string(), range, granularity, Utc::now()).await.unwrap().unwrap() }
    };
    // Two weeks, Monday 2 to Sunday 15 March: seven early shifts of 420 planned minutes in each.
    let weeks = read("2026-03-02T00:00:00+01:00", "2026-03-16T00:00:00+01:00", Granularity::Week).await;
    let dates: Vec<_> = weeks.periods.iter().map(|week| week.date.unwrap().to_string()).collect();
    assert_eq!(dates, ["2026-03-02", "2026-03-09"]);
    for week in &weeks.periods {
        let inputs = week.oee.inputs;
        assert_eq!((inputs.planned_production_ms, inputs.calendar_ms), (7 * 420 * MINUTE, 7 * 1_440 * MINUTE));
    }
    // March: 31 shifts; 743 hours, the clocks having gone forward on the 29th.
    let months = read("2026-03-01T00:00:00+01:00", "2026-04-01T00:00:00+02:00", Granularity::Month).await;
    assert_eq!(months.periods.len(), 1);
    let march = months.periods[0].oee.inputs;
    assert_eq!((march.planned_production_ms, march.calendar_ms), (31 * 420 * MINUTE, 743 * 60 * MINUTE));
    assert_eq!(months.total.inputs.calendar_ms, march.calendar_ms, "the range is the month");
    // A range that starts mid-week measures the week's part inside it.
    let part = read("2026-03-04T00:00:00+01:00", "2026-03-09T00:00:00+01:00", Granularity::Week).await;
    assert_eq!(part.periods[0].oee.inputs.calendar_ms, 5 * 1_440 * MINUTE);
    assert_eq!(part.periods[0].oee.inputs.planned_production_ms, 5 * 420 * MINUTE);
}

#[tokio::test]
async fn a_monday_to_friday_three_shift_pattern_with_a_holiday_plans_only_working_days() {
    use domain::line::{Day, NonProductionDay, Weekdays};
    let fixture = fixture().await;
    let lines: commands::PgEventStore<domain::line::Line> =
        commands::PgEventStore::new(fixture.app.clone(), commands::StoreSettings::default());
    let weekdays = Weekdays::try_from(vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri]).unwrap();
    let shift = |name: &str, start: &str, end: &str| ShiftDefinition {
        name: ShiftName::parse(name).unwrap(),
        start: time(start),
        end: time(end),
        breaks: vec![PlannedBreak {
            // Four hours into the shift.
            start: time(&format!("{:02}:00", (time(start).hour() + 4) % 24)),
            duration: minutes(30),
        }],
        days: weekdays.clone(),
    };
    let since = at("2026-01-01T00:00:00Z");
    let holiday = NonProductionDay { date: "2026-03-04".parse().unwrap(), name: Name::parse("Plant holiday").unwrap() };
    let setup = [
        LineCommand::Register {
            line: line(),
            name: Name::parse("Line 3").unwrap(),
            time_zone: chrono_tz::Europe::Berlin,
        },
        LineCommand::SetShiftCalendar {
            shifts: vec![
                shift("early", "06:00", "14:00"),
                shift("late", "14:00", "22:00"),
                shift("night", "22:00", "06:00"),
            ],
            effective_from: since,
            reason: None,
        },
        LineCommand::SetNonProductionDays { days: vec![holiday], effective_from: since, reason: None },
    ];
    for command in setup {
        execute(&lines, &line().to_string(), command, &context()).await.unwrap();
    }
    fixture.caught_up(&Oee).await;
    let week = Interval::new(at("2026-03-02T00:00:00+01:00"), at("2026-03-09T00:00:00+01:00")).unwrap();
    let days = line_oee(&fixture.app, &line().to_string(), week, Granularity::Day, Utc::now()).await.unwrap().unwrap();
    // Every day of the week is a period: four working days of three shifts (the Friday night runs into
    // Saturday but belongs to Friday), the holiday and the weekend with nothing planned.
    let planned: Vec<u64> = days.periods.iter().map(|day| day.oee.inputs.planned_production_ms / MINUTE).collect();
    assert_eq!(planned, [1_350, 1_350, 0, 1_350, 1_350, 0, 0]);
    let holiday = &days.periods[2].oee;
    assert_eq!((bp(holiday.figures.utilization), holiday.figures.oee, holiday.figures.teep), (Some(0), None, None));
    assert_eq!(holiday.inputs.calendar_ms, 1_440 * MINUTE);
    // The week: 4 x 1,350 planned minutes of 10,080: utilization 53.57 %.
    let total = days.total.inputs;
    assert_eq!((total.planned_production_ms, total.calendar_ms), (5_400 * MINUTE, 10_080 * MINUTE));
    assert_eq!(bp(days.total.figures.utilization), Some(5_357));
    let shifts =
        line_oee(&fixture.app, &line().to_string(), week, Granularity::Shift, Utc::now()).await.unwrap().unwrap();
    assert_eq!(shifts.periods.len(), 12, "no shift on the holiday or the weekend");
    // A list that takes effect later leaves the figures before it as they were (RC-03).
    let reopened = LineCommand::SetNonProductionDays {
        days: vec![],
        effective_from: at("2026-03-10T00:00:00Z"),
        reason: Some(Reason::parse("holiday list for the rest of the year").unwrap()),
    };
    execute(&lines, &line().to_string(), reopened, &context()).await.unwrap();
    fixture.caught_up(&Oee).await;
    let again =
        line_oee(&fixture.app, &line().to_string(), week, Granularity::Shift, Utc::now()).await.unwrap().unwrap();
    assert_eq!(again.periods.len(), 12);
}

/// Whole hours are read from the hourly sums and everything else from the counts, and the two give
/// exactly what the counts alone give: a line in Asia/Kolkata (UTC+05:30, so its hours and shift start
/// at half past in UTC), two products counted every seven minutes with start-up rejects, SKU-A's ideal
/// cycle time changed at 03:20 UTC (inside an hour, and set after the counts: in the past), SKU-B
/// priced only from 04:45 UTC. Every hour's and the shift's sums equal those recomputed here from the
/// bookings themselves.
#[tokio::test]
async fn hourly_sums_give_exactly_the_counts_sums_with_versions_inside_hours_in_a_half_hour_zone() {
    let fixture = fixture().await;
    let lines: commands::PgEventStore<domain::line::Line> =
        commands::PgEventStore::new(fixture.app.clone(), commands::StoreSettings::default());
    let l9 = "plant-1/packing/L9";
    let name = |text: &str| Name::parse(text).unwrap();
    let product = |text: &str| ProductId::parse(text).unwrap();
    let since = at("2026-01-01T00:00:00Z");
    let day = ShiftDefinition {
        name: ShiftName::parse("day").unwrap(),
        start: time("06:00"),
        end: time("15:00"),
        breaks: vec![PlannedBreak { start: time("10:00"), duration: minutes(30) }],
        days: domain::line::Weekdays::default(),
    };
    let setup = [
        LineCommand::Register {
            line: LineId::parse(l9).unwrap(),
            name: name("L9"),
            time_zone: chrono_tz::Asia::Kolkata,
        },
        LineCommand::SetShiftCalendar { shifts: vec![day], effective_from: since, reason: None },
        LineCommand::SetIdealCycleTime {
            product: product("SKU-A"),
            ideal_cycle_time: Millis::new(1_000).unwrap(),
            effective_from: since,
            reason: None,
        },
        LineCommand::SetIdealCycleTime {
            product: product("SKU-B"),
            ideal_cycle_time: Millis::new(2_000).unwrap(),
            effective_from: at("2026-03-02T04:45:00Z"),
            reason: None,
        },
        LineCommand::DefineRejectReason {
            code: ReasonCode::parse("warm-up").unwrap(),
            label: name("Warm-up"),
            parent: None,
            category: RejectCategory::Startup,
            reason: None,
        },
    ];
    for command in setup {
        execute(&lines, l9, command, &context()).await.unwrap();
    }
    let jobs = fixture.jobs();
    let (a, b) = (running_job_on(&jobs, l9, "SKU-A").await, running_job_on(&jobs, l9, "SKU-B").await);
    // (made at, product, good, start-up rejects)
    let mut booked = Vec::new();
    let start = at("2026-03-02T00:00:00Z");
    for n in 0..90_i64 {
        let made_at = start + chrono::Duration::minutes(7 * n);
        let (job, sku) = if n % 3 == 0 { (&b, "SKU-B") } else { (&a, "SKU-A") };
        let (good, rejects) = (u64::try_from(10 + n % 11).unwrap(), u64::try_from(n % 4).unwrap());
        let mut context = context();
        context.source_timestamp = Some(made_at);
        let reason = (rejects > 0).then(|| ReasonCode::parse("warm-up").unwrap());
        record_production(&lines, &jobs, job, (good, rejects), reason, &context).await.unwrap();
        booked.push((made_at, sku, good, rejects));
    }
    let changed = LineCommand::SetIdealCycleTime {
        product: product("SKU-A"),
        ideal_cycle_time: Millis::new(1_500).unwrap(),
        effective_from: at("2026-03-02T03:20:00Z"),
        reason: Some(Reason::parse("slower since the 03:20 inspection").unwrap()),
    };
    execute(&lines, l9, changed, &context()).await.unwrap();
    fixture.caught_up(&Oee).await;

    let ideal = |sku: &str, made_at: DateTime<Utc>| -> Option<u128> {
        match sku {
            "SKU-A" if made_at < at("2026-03-02T03:20:00Z") => Some(1_000),
            "SKU-A" => Some(1_500),
            _ if made_at >= at("2026-03-02T04:45:00Z") => Some(2_000),
            _ => None,
        }
    };
    // (total, good, ideal total, ideal good, unpriced, start-up rejects) of the bookings in [from, to).
    let expected = |from: DateTime<Utc>, to: DateTime<Utc>| {
        let mut sums = (0u64, 0u64, 0u128, 0u128, 0u64, 0i64);
        for (made_at, sku, good, rejects) in booked.iter().filter(|(made_at, ..)| from <= *made_at && *made_at < to) {
            let total = good + rejects;
            sums.0 += total;
            sums.1 += good;
            match ideal(sku, *made_at) {
                Some(ms) => {
                    sums.2 += ms * u128::from(total);
                    sums.3 += ms * u128::from(*good);
                }
                None => sums.4 += total,
            }
            sums.5 += i64::try_from(*rejects).unwrap();
        }
        sums
    };
    let range = Interval::new(start, at("2026-03-02T11:00:00Z")).unwrap();
    let now = Utc::now();
    let mut compared = 0;
    for granularity in [Granularity::Hour, Granularity::Shift] {
        let read = line_oee(&fixture.app, l9, range, granularity, now).await.unwrap().expect("the line is known");
        for period in &read.periods {
            let oee = &period.oee;
            let inputs = oee.inputs;
            // Units outside planned time (the break, before the shift) count in no figure; compare the
            // sums where the window is planned throughout, and the unpriced units everywhere.
            let got = (inputs.total_count, inputs.good_count, inputs.ideal_total_ms, inputs.ideal_good_ms);
            let want = expected(period.start, period.end);
            assert_eq!(got, (want.0, want.1, want.2, want.3), "{granularity:?} from {}", period.start);
            assert_eq!(oee.units_without_ideal_cycle_time, want.4, "{granularity:?} from {}", period.start);
            if oee.inputs.planned_production_ms > 0 {
                assert_eq!(oee.loss_tree().startup_rejects, want.5, "{granularity:?} from {}", period.start);
            }
            compared += 1;
        }
    }
    assert_eq!(compared, 11 + 1, "eleven hours from 00:30 UTC (05:30 local) and the shift");
}
