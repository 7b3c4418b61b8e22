//! Shift reports and loss trees over a line with a year of history, and a site's month over 50 lines
//! (docs/oee.md, "Shift reports"). The lines are configured through commands and projected; their year
//! (or month) of counts, their hourly sums and their stops are written straight into the OEE read
//! model's active tables, as the projector would have left them, since what is measured here is the queries: a shift report (its
//! figures, hours and details), a month of days with their loss trees, and the site roll-up of a month
//! as `GET /api/v1/oee/roll-up` forms it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{Datelike as _, NaiveTime, TimeZone as _, Utc};
use commands::{PgEventStore, StoreSettings, execute};
use domain::line::{Day, Line, LineCommand, PlannedBreak, ShiftDefinition, Weekdays};
use domain::line_id::LineId;
use domain::oee::{Interval, roll_up_windows};
use domain::values::{LossCategory, Millis, Name, ProductId, ReasonCode, ShiftName};
use projections::read_models::oee::query::{Granularity, line_oee, shift_figures};
use projections::read_models::shift_report::shift_details;
use sqlx::PgPool;

use crate::runner::{Stats, run};
use crate::workload::context;

pub const LINES: usize = 50;
const SITE: &str = "bench";

pub struct ReportFigures {
    pub counts: i64,
    pub stops: i64,
    pub rows: Vec<(&'static str, Stats)>,
}

fn line_id(number: usize) -> String {
    format!("{SITE}/hall/L{number:02}")
}

/// Three eight-hour shifts on `days`, a 30-minute break in each.
pub fn calendar(days: &[Day]) -> anyhow::Result<Vec<ShiftDefinition>> {
    let time = |text: &str| NaiveTime::parse_from_str(text, "%H:%M");
    [("early", "06:00", "14:00", "10:00"), ("late", "14:00", "22:00", "18:00"), ("night", "22:00", "06:00", "02:00")]
        .into_iter()
        .map(|(name, start, end, pause)| {
            Ok(ShiftDefinition {
                name: ShiftName::parse(name)?,
                start: time(start)?,
                end: time(end)?,
                breaks: vec![PlannedBreak { start: time(pause)?, duration: Millis::new(30 * 60_000)? }],
                days: Weekdays::try_from(days.to_vec()).map_err(|error| anyhow::anyhow!("{error}"))?,
            })
        })
        .collect()
}

/// Configures the lines through commands, lets the projectors apply them, then writes the history: for
/// line 1 a year, for the others the month measured; a count every minute (60 units, 2 rejects, one in
/// ten booked as start-up) and a 7-minute jam every 47 minutes.
async fn fill(pool: &PgPool, year: Interval, month: Interval) -> anyhow::Result<(i64, i64)> {
    let lines: PgEventStore<Line> = PgEventStore::new(pool.clone(), StoreSettings::default());
    let since = year.start() - chrono::Duration::days(1);
    for number in 1..=LINES {
        let line = line_id(number);
        let commands = [
            LineCommand::Register {
                line: LineId::parse(&line)?,
                name: Name::parse(&line)?,
                time_zone: "Europe/Berlin".parse().map_err(|error| anyhow::anyhow!("{error}"))?,
            },
            LineCommand::SetShiftCalendar {
                shifts: calendar(&[Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri])?,
                effective_from: since,
                reason: None,
            },
            LineCommand::SetIdealCycleTime {
                product: ProductId::parse("SKU-1")?,
                ideal_cycle_time: Millis::new(900)?,
                effective_from: since,
                reason: None,
            },
            LineCommand::DefineDowntimeReason {
                code: ReasonCode::parse("jam")?,
                label: Name::parse("Jam")?,
                parent: None,
                loss_category: LossCategory::Unplanned,
                reason: None,
            },
        ];
        for command in commands {
            execute(&lines, &line, command, &context()).await?;
        }
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers = projections::spawn_all(pool, projections::engine::worker::Settings::default(), None, &stopped);
    crate::caught_up(pool).await?;
    stop.send(true).ok();
    for worker in workers {
        worker.await.ok();
    }
    let mut counts = 0;
    let mut stops = 0;
    for number in 1..=LINES {
        let span = if number == 1 { year } else { month };
        let index = i64::try_from(number)?;
        counts += sqlx::query(
            "INSERT INTO rm_oee_blue.read_oee_counts (position, line, product, made_at, total, good, startup_reject, job_id)
             SELECT 1000000000000 + $4 * 10000000 + n, $1, 'SKU-1', $2 + n * interval '1 minute', 60, 58,
                    CASE WHEN n % 10 = 0 THEN 2 ELSE 0 END, 'job-' || (n / 480)
             FROM generate_series(0, (extract(epoch FROM $3 - $2) / 60)::bigint - 1) AS n",
        )
        .bind(line_id(number))
        .bind(span.start())
        .bind(span.end())
        .bind(index)
        .execute(pool)
        .await?
        .rows_affected();
        // The projector keeps the hourly sums beside the counts; so does this.
        sqlx::query(
            "INSERT INTO rm_oee_blue.read_oee_count_hours (line, hour, product, total, good, startup_reject)
             SELECT line, date_trunc('hour', made_at, 'UTC'), product, sum(total), sum(good), sum(startup_reject)
             FROM rm_oee_blue.read_oee_counts WHERE line = $1 GROUP BY 1, 2, 3",
        )
        .bind(line_id(number))
        .execute(pool)
        .await?;
        stops += sqlx::query(
            "INSERT INTO rm_oee_blue.read_oee_stops (downtime_id, line, equipment, started_at, ended_at, state, last_position)
             SELECT $1 || '-stop-' || n, $1, NULL, s, s + interval '7 minutes',
                    jsonb_build_object('line', $1, 'equipment', NULL,
                        'interval', jsonb_build_object('started_at', s, 'small_stop_threshold', 120000,
                                                       'ended', jsonb_build_array(s + interval '7 minutes', 'downtime')),
                        'reason', jsonb_build_object('code', 'jam', 'loss_category', 'unplanned'),
                        'voided', false, 'signatures', jsonb_build_object('held', '[]'::jsonb, 'corrections', 0)),
                    0
             FROM generate_series(0, (extract(epoch FROM $3 - $2) / 60 / 47)::bigint - 1) AS n,
                  LATERAL (SELECT $2 + n * interval '47 minutes' AS s) AS at",
        )
        .bind(line_id(number))
        .bind(span.start())
        .bind(span.end())
        .execute(pool)
        .await?
        .rows_affected();
    }
    sqlx::query("SELECT analyse_read_model('oee', 'blue')").execute(pool).await?;
    Ok((i64::try_from(counts)?, i64::try_from(stops)?))
}

pub async fn measure(pool: &PgPool, duration: Duration) -> anyhow::Result<ReportFigures> {
    let end = Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).single().ok_or_else(|| anyhow::anyhow!("a date"))?;
    let year = Interval::new(end - chrono::Duration::days(365), end).ok_or_else(|| anyhow::anyhow!("a year"))?;
    let month = Interval::new(end - chrono::Duration::days(30), end).ok_or_else(|| anyhow::anyhow!("a month"))?;
    eprintln!("reports: configuring {LINES} lines and writing a year of one and a month of the others");
    let (counts, stops) = fill(pool, year, month).await?;
    let now = Utc::now();
    // A Wednesday early shift in the middle of the year.
    let middle = year.start() + chrono::Duration::days(182);
    let wednesday =
        middle.date_naive() + chrono::Duration::days(i64::from((9 - middle.weekday().number_from_monday()) % 7));
    let pool = Arc::new(pool.clone());
    let report = {
        let pool = Arc::clone(&pool);
        move |_: usize, _: u64| {
            let pool = Arc::clone(&pool);
            async move {
                let line = line_id(1);
                let figures = shift_figures(&pool, &line, wednesday, "early", now)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or("no such shift")?;
                shift_details(&pool, &line, figures.occurrence.interval, now).await.map_err(|e| e.to_string())?;
                Ok(())
            }
        }
    };
    let days = {
        let pool = Arc::clone(&pool);
        move |_: usize, _: u64| {
            let pool = Arc::clone(&pool);
            async move {
                let answer =
                    line_oee(&pool, &line_id(1), month, Granularity::Day, now).await.map_err(|e| e.to_string())?;
                let tree = answer.ok_or("no line")?.total.loss_tree();
                (tree.planned_production_ms > 0).then_some(()).ok_or_else(|| "an empty loss tree".to_owned())
            }
        }
    };
    let site = {
        let pool = Arc::clone(&pool);
        move |_: usize, _: u64| {
            let pool = Arc::clone(&pool);
            async move {
                let lines = projections::read_models::oee::query::lines_of(&pool, SITE, None)
                    .await
                    .map_err(|e| e.to_string())?;
                let mut totals = Vec::with_capacity(lines.len());
                for line in &lines {
                    let oee = line_oee(&pool, line, month, Granularity::Shift, now).await.map_err(|e| e.to_string())?;
                    totals.extend(oee.map(|oee| oee.total));
                }
                let total = roll_up_windows(totals.iter());
                (totals.len() == LINES && total.inputs.total_count > 0)
                    .then_some(())
                    .ok_or_else(|| "lines missing".to_owned())
            }
        }
    };
    let mut rows = Vec::new();
    eprintln!("reports: a shift report of the line with a year of history");
    rows.push((
        "shift report (figures, hours, details) of a line with a year of history",
        run(4, duration, u64::MAX, None, report).await,
    ));
    eprintln!("reports: a month of days with loss trees");
    rows.push(("a month of days with loss trees, the same line", run(4, duration, u64::MAX, None, days).await));
    eprintln!("reports: the site roll-up of a month over {LINES} lines");
    rows.push((
        "site roll-up of a month over 50 lines (goal p99 < 50 ms)",
        run(1, duration, u64::MAX, None, site).await,
    ));
    Ok(ReportFigures { counts, stops, rows })
}

pub fn print(figures: &ReportFigures) {
    println!();
    println!("Shift reports and roll-ups ({} counts, {} stops in the OEE read model):", figures.counts, figures.stops);
    println!("| query | clients | queries/s | p50 ms | p99 ms | failed |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (query, stats) in &figures.rows {
        let clients = if query.starts_with("site") { 1 } else { 4 };
        println!(
            "| {query} | {clients} | {:.1} | {:.1} | {:.1} | {} |",
            stats.per_second(),
            stats.percentile(0.50).as_secs_f64() * 1000.0,
            stats.percentile(0.99).as_secs_f64() * 1000.0,
            stats.failed
        );
    }
}
