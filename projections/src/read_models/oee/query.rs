//! OEE figures per hour, shift occurrence or day of a line, and their roll-ups, from the OEE read model's
//! facts as of a query's "now". Hours are the line's local clock hours; a day is the sum of the shift
//! occurrences that start on that local date (a night shift belongs to the date it starts), a week
//! (Monday to Sunday) or a month those of its dates, each over its whole local time for utilization and
//! TEEP, as a line's total is over the whole range asked.

use chrono::{DateTime, Datelike as _, Duration, Months, NaiveDate, Utc};
use chrono_tz::Tz;
use domain::downtime::Downtime;
use domain::line::Line;
use domain::oee::{
    CountSums, HourFacts, HourRow, Interval, ShiftOccurrence, StopFact, WindowOee, hour_by_hour, local_hours,
    local_instant, roll_up_windows, window_oee,
};
use domain::values::Millis;
use serde::Serialize;
use sqlx::PgPool;
use sqlx::types::Json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Hour,
    Shift,
    Day,
    /// Monday to Sunday, local.
    Week,
    Month,
}

/// One period's OEE. `shift` names the shift of a shift occurrence; `date` is the local date of a shift
/// occurrence or a day, or the first local date of a week or month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Period {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub shift: Option<String>,
    pub date: Option<NaiveDate>,
    /// The crew of a shift occurrence, when the line's rotation names one.
    pub crew: Option<String>,
    pub oee: WindowOee,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineOee {
    pub line: String,
    pub time_zone: String,
    pub periods: Vec<Period>,
    /// The periods summed (docs/oee.md: times and weighted counts add up, percentages are never averaged).
    pub total: WindowOee,
}

/// The periods of `line` that start in `range`, as of `now`; `None` for a line the read model does not
/// know (yet).
pub async fn line_oee(
    pool: &PgPool,
    line: &str,
    range: Interval,
    granularity: Granularity,
    now: DateTime<Utc>,
) -> Result<Option<LineOee>, sqlx::Error> {
    let Some((config, zone)) = line_config(pool, line).await? else { return Ok(None) };
    let shifts = match granularity {
        Granularity::Hour => Vec::new(),
        _ => config.scheduled(range),
    };
    let windows: Vec<(Interval, Option<&ShiftOccurrence>)> = match granularity {
        Granularity::Hour => local_hours(zone, range).into_iter().map(|hour| (hour, None)).collect(),
        _ => shifts.iter().map(|shift| (shift.interval, Some(shift))).collect(),
    };
    let periods = periods(pool, line, &config, &windows, now).await?;
    let periods = match granularity {
        Granularity::Hour | Granularity::Shift => periods,
        grouping => grouped(periods, grouping, zone, range, now),
    };
    let total = roll_up_windows(periods.iter().map(|period| &period.oee)).over(range, now);
    Ok(Some(LineOee { line: line.to_owned(), time_zone: zone.name().to_owned(), periods, total }))
}

/// The shift occurrence of a line named `shift` that starts on the local `date`, if the calendar and the
/// non-production days in force then schedule one.
pub fn occurrence(config: &Line, zone: Tz, date: NaiveDate, shift: &str) -> Option<ShiftOccurrence> {
    let midnight = local_instant(zone, date.and_time(chrono::NaiveTime::MIN));
    // A local day lasts at most 25 hours.
    let day = Interval::new(midnight, midnight + Duration::hours(25))?;
    config.scheduled(day).into_iter().find(|found| found.date == date && found.shift.to_string() == shift)
}

/// A shift occurrence of a line as of a moment: its OEE (exactly as a line's shift periods and the
/// status board form it) and its hours.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShiftFigures {
    pub occurrence: ShiftOccurrence,
    pub oee: WindowOee,
    pub hours: Vec<HourRow>,
}

/// The figures of a shift occurrence as of `now`: its OEE, and its hour-by-hour board over its local
/// clock hours (the first and last cut at the shift's edges). `None` for a line the read model does
/// not know or a shift it does not schedule on that date.
pub async fn shift_figures(
    pool: &PgPool,
    line: &str,
    date: NaiveDate,
    shift: &str,
    now: DateTime<Utc>,
) -> Result<Option<ShiftFigures>, sqlx::Error> {
    let Some((config, zone)) = line_config(pool, line).await? else { return Ok(None) };
    let Some(occurrence) = occurrence(&config, zone, date, shift) else { return Ok(None) };
    let span = occurrence.interval;
    let hours: Vec<Interval> = Interval::new(span.start() - Duration::hours(1), span.end())
        .map(|around| local_hours(zone, around))
        .unwrap_or_default()
        .into_iter()
        .filter_map(|hour| hour.clip(&span))
        .collect();
    let windows: Vec<Interval> = std::iter::once(span).chain(hours.iter().copied()).collect();
    let facts = window_facts(pool, line, &config, &windows).await?;
    let oee = periods_at(&[(span, Some(&occurrence))], &facts, now).pop().map(|period| period.oee);
    let products = products_made(pool, line, &hours).await?;
    let hour_facts =
        hours.iter().zip(facts.counts.iter().skip(1)).zip(products).map(|((hour, counts), (product, ideal_ms))| {
            HourFacts {
                oee: window_oee(*hour, &facts.schedule, &facts.stops, counts, now),
                product,
                ideal_cycle_time: ideal_ms.and_then(|ms| u64::try_from(ms).ok()).and_then(|ms| Millis::new(ms).ok()),
            }
        });
    let hours = hour_by_hour(hour_facts.collect());
    Ok(oee.map(|oee| ShiftFigures { occurrence, oee, hours }))
}

/// For each window, the product the line made last in it or the day before its end, and its ideal cycle
/// time in force at the window's start. The day bounds the search: the read model's views keep the
/// planner from reading a line's counts backwards in order, so "the last ever" would sort its history.
async fn products_made(
    pool: &PgPool,
    line: &str,
    windows: &[Interval],
) -> Result<Vec<(Option<String>, Option<i64>)>, sqlx::Error> {
    let (starts, ends): (Vec<_>, Vec<_>) = windows.iter().map(|window| (window.start(), window.end())).unzip();
    sqlx::query_as(
        "SELECT p.product, t.ideal_ms
         FROM UNNEST($2::timestamptz[], $3::timestamptz[]) WITH ORDINALITY AS w(s, e, i)
         LEFT JOIN LATERAL (SELECT c.product FROM read_oee_counts c
                            WHERE c.line = $1 AND c.made_at < w.e AND c.made_at >= w.e - interval '1 day'
                            ORDER BY c.made_at DESC LIMIT 1) p ON true
         LEFT JOIN read_oee_cycle_times t ON t.line = $1 AND t.product = p.product
              AND t.effective_from <= w.s AND (t.effective_to IS NULL OR w.s < t.effective_to)
         ORDER BY w.i",
    )
    .bind(line)
    .bind(&starts)
    .bind(&ends)
    .fetch_all(pool)
    .await
}

/// What the OEE of the shift running at a moment is computed from: the moment's shift occurrence, if any,
/// and its facts. It holds from `since` until `until` (the shift boundaries around the moment) for as
/// long as the read model's rows of the line stay as they are, so a dashboard can work out the figure
/// for each request's "now" without reading again.
#[derive(Debug, Clone)]
pub struct CurrentShift {
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    running: Option<(ShiftOccurrence, WindowFacts)>,
}

impl CurrentShift {
    pub fn holds_at(&self, now: DateTime<Utc>) -> bool {
        self.since <= now && now < self.until
    }

    /// The running shift's OEE so far at `now` (where it holds); `None` between shifts.
    pub fn oee_at(&self, now: DateTime<Utc>) -> Option<Period> {
        let (occurrence, facts) = self.running.as_ref()?;
        periods_at(&[(occurrence.interval, Some(occurrence))], facts, now).pop()
    }
}

/// How far around a moment shift boundaries are looked for: longer than any shift.
const SHIFT_HORIZON: Duration = Duration::days(2);

/// The shift occurrence of `line` running at `now` and its facts, given the line's row of the read model
/// (`read_oee_lines.state`); no running shift for a line the read model does not know (yet).
pub async fn current_shift(
    pool: &PgPool,
    line: &str,
    config: Option<Line>,
    now: DateTime<Utc>,
) -> Result<CurrentShift, sqlx::Error> {
    let (mut since, mut until) = (now - SHIFT_HORIZON, now + SHIFT_HORIZON);
    let (Some((config, _)), Some(around)) = (config.and_then(with_zone), Interval::new(since, until)) else {
        return Ok(CurrentShift { since, until, running: None });
    };
    let shifts = config.scheduled(around);
    for boundary in shifts.iter().flat_map(|shift| [shift.interval.start(), shift.interval.end()]) {
        if boundary <= now {
            since = since.max(boundary);
        } else {
            until = until.min(boundary);
        }
    }
    let running = shifts.into_iter().find(|shift| shift.interval.start() <= now && now < shift.interval.end());
    let running = match running {
        Some(shift) => {
            let facts = window_facts(pool, line, &config, &[shift.interval]).await?;
            Some((shift, facts))
        }
        None => None,
    };
    Ok(CurrentShift { since, until, running })
}

/// The lines of a site, or of one area of it, that the read model knows.
pub async fn lines_of(pool: &PgPool, site: &str, area: Option<String>) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT line FROM read_oee_lines
         WHERE split_part(line, '/', 1) = $1 AND ($2::text IS NULL OR split_part(line, '/', 2) = $2) ORDER BY line",
    )
    .bind(site)
    .bind(area)
    .fetch_all(pool)
    .await
}

/// The line's configuration and time zone; `None` until the read model has seen it registered.
async fn line_config(pool: &PgPool, line: &str) -> Result<Option<(Line, Tz)>, sqlx::Error> {
    let state: Option<Json<Line>> =
        sqlx::query_scalar("SELECT state FROM read_oee_lines WHERE line = $1").bind(line).fetch_optional(pool).await?;
    Ok(state.and_then(|Json(config)| with_zone(config)))
}

/// A line's configuration with its time zone, once it is registered.
fn with_zone(config: Line) -> Option<(Line, Tz)> {
    let zone = config.identity.as_ref()?.2;
    Some((config, zone))
}

/// Each window's OEE from one read of the stops and one of the counts that fall in any of them.
async fn periods(
    pool: &PgPool,
    line: &str,
    config: &Line,
    windows: &[(Interval, Option<&ShiftOccurrence>)],
    now: DateTime<Utc>,
) -> Result<Vec<Period>, sqlx::Error> {
    let intervals: Vec<Interval> = windows.iter().map(|window| window.0).collect();
    let facts = window_facts(pool, line, config, &intervals).await?;
    Ok(periods_at(windows, &facts, now))
}

/// What windows' OEE is computed from: the shift occurrences around them, the stops that overlap them
/// and the units made in each.
#[derive(Debug, Clone)]
struct WindowFacts {
    schedule: Vec<ShiftOccurrence>,
    stops: Vec<StopFact>,
    counts: Vec<CountSums>,
}

async fn window_facts(
    pool: &PgPool,
    line: &str,
    config: &Line,
    windows: &[Interval],
) -> Result<WindowFacts, sqlx::Error> {
    let (Some(first), Some(last)) =
        (windows.iter().map(Interval::start).min(), windows.iter().map(Interval::end).max())
    else {
        return Ok(WindowFacts { schedule: Vec::new(), stops: Vec::new(), counts: Vec::new() });
    };
    // Occurrences that started up to two days earlier can still reach into the first window.
    let schedule = Interval::new(first - SHIFT_HORIZON, last).map(|span| config.scheduled(span)).unwrap_or_default();
    let (stops, counts) = stops_and_counts(pool, line, (first, last), windows).await?;
    Ok(WindowFacts { schedule, stops, counts })
}

fn periods_at(
    windows: &[(Interval, Option<&ShiftOccurrence>)],
    facts: &WindowFacts,
    now: DateTime<Utc>,
) -> Vec<Period> {
    windows
        .iter()
        .zip(&facts.counts)
        .map(|((window, shift), counts)| Period {
            start: window.start(),
            end: window.end(),
            shift: shift.map(|shift| shift.shift.to_string()),
            date: shift.map(|shift| shift.date),
            crew: shift.and_then(|shift| shift.crew.as_ref().map(ToString::to_string)),
            oee: window_oee(*window, &facts.schedule, &facts.stops, counts, now),
        })
        .collect()
}

/// Whole-line stops that overlap [from, to) (an open one overlaps everything after its start), and the
/// units made in each window, each priced with the ideal cycle time in force when it was made: one
/// statement, so one round trip and one snapshot. Prices are summed as numeric and read as i128: a
/// year of bookings at the bound times the longest ideal cycle time exceeds a bigint.
async fn stops_and_counts(
    pool: &PgPool,
    line: &str,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    windows: &[Interval],
) -> Result<(Vec<StopFact>, Vec<CountSums>), sqlx::Error> {
    let (starts, ends): (Vec<_>, Vec<_>) = windows.iter().map(|window| (window.start(), window.end())).unzip();
    type Sums = (i64, i64, i128, i128, i64, i64, i128);
    let (Json(stops), Json(sums)): (Json<Vec<Downtime>>, Json<Vec<Sums>>) = sqlx::query_as(
        // Each window in a LATERAL subquery, so each reads index ranges of its own, however long the
        // line's history: its whole UTC hours [hs, he) from the hourly sums, priced with the ideal cycle
        // time version in force all through each hour; the hours a version takes effect inside, and the
        // partial hours at its edges (all of it when it holds no whole hour), from the counts, each
        // priced as it was made. Open stops and stops ended after `from` are two index scans of
        // (line, ended_at) rather than one over every earlier start.
        "SELECT
             (SELECT COALESCE(jsonb_agg(state), '[]')
              FROM (SELECT state FROM read_oee_stops
                    WHERE line = $1 AND equipment IS NULL AND ended_at > $2 AND started_at < $3
                    UNION ALL
                    SELECT state FROM read_oee_stops
                    WHERE line = $1 AND equipment IS NULL AND ended_at IS NULL AND started_at < $3) overlapping),
             (SELECT COALESCE(jsonb_agg(jsonb_build_array(total, good, ideal_total, ideal_good, unpriced, startup, ideal_startup) ORDER BY i), '[]')
              FROM UNNEST($4::timestamptz[], $5::timestamptz[]) WITH ORDINALITY AS w(s, e, i)
              CROSS JOIN LATERAL (
                  SELECT CASE WHEN date_trunc('hour', w.s, 'UTC') = w.s THEN w.s
                              ELSE date_trunc('hour', w.s, 'UTC') + interval '1 hour' END AS hs,
                         date_trunc('hour', w.e, 'UTC') AS he) whole
              CROSS JOIN LATERAL (
                  SELECT COALESCE(sum(u.total), 0)::bigint AS total, COALESCE(sum(u.good), 0)::bigint AS good,
                         COALESCE(sum(u.total::numeric * u.ideal_ms), 0) AS ideal_total,
                         COALESCE(sum(u.good::numeric * u.ideal_ms), 0) AS ideal_good,
                         COALESCE(sum(u.total) FILTER (WHERE u.ideal_ms IS NULL), 0)::bigint AS unpriced,
                         COALESCE(sum(u.startup_reject), 0)::bigint AS startup,
                         COALESCE(sum(u.startup_reject::numeric * u.ideal_ms), 0) AS ideal_startup
                  FROM (SELECT c.total, c.good, c.startup_reject, t.ideal_ms
                        FROM read_oee_counts c
                        LEFT JOIN read_oee_cycle_times t ON t.line = c.line AND t.product = c.product
                             AND c.made_at >= t.effective_from AND (t.effective_to IS NULL OR c.made_at < t.effective_to)
                        WHERE c.line = $1 AND c.made_at >= w.s
                          AND c.made_at < CASE WHEN whole.hs < whole.he THEN whole.hs ELSE w.e END
                        UNION ALL
                        SELECT c.total, c.good, c.startup_reject, t.ideal_ms
                        FROM read_oee_counts c
                        LEFT JOIN read_oee_cycle_times t ON t.line = c.line AND t.product = c.product
                             AND c.made_at >= t.effective_from AND (t.effective_to IS NULL OR c.made_at < t.effective_to)
                        WHERE whole.hs < whole.he AND c.line = $1 AND c.made_at >= whole.he AND c.made_at < w.e
                        UNION ALL
                        SELECT c.total, c.good, c.startup_reject, c.ideal_ms
                        FROM (SELECT DISTINCT v.product, date_trunc('hour', v.effective_from, 'UTC') AS hour
                              FROM read_oee_cycle_times v
                              WHERE v.line = $1 AND v.effective_from >= whole.hs AND v.effective_from < whole.he
                                AND v.effective_from <> date_trunc('hour', v.effective_from, 'UTC')) split
                        CROSS JOIN LATERAL (
                            SELECT c.total, c.good, c.startup_reject, t.ideal_ms
                            FROM read_oee_counts c
                            LEFT JOIN read_oee_cycle_times t ON t.line = c.line AND t.product = c.product
                                 AND c.made_at >= t.effective_from
                                 AND (t.effective_to IS NULL OR c.made_at < t.effective_to)
                            WHERE c.line = $1 AND c.product = split.product
                              AND c.made_at >= split.hour AND c.made_at < split.hour + interval '1 hour') c
                        UNION ALL
                        SELECT h.total, h.good, h.startup_reject, t.ideal_ms
                        FROM read_oee_count_hours h
                        LEFT JOIN read_oee_cycle_times t ON t.line = h.line AND t.product = h.product
                             AND h.hour >= t.effective_from AND (t.effective_to IS NULL OR h.hour < t.effective_to)
                        WHERE h.line = $1 AND h.hour >= whole.hs AND h.hour < whole.he
                          AND NOT EXISTS (SELECT 1 FROM read_oee_cycle_times v
                                          WHERE v.line = $1 AND v.product = h.product AND v.effective_from > h.hour
                                            AND v.effective_from < h.hour + interval '1 hour')) u) sums)",
    )
    .bind(line)
    .bind(from)
    .bind(to)
    .bind(&starts)
    .bind(&ends)
    .fetch_one(pool)
    .await?;
    let stops = stops
        .into_iter()
        .filter_map(|stop| {
            let interval = stop.interval.as_ref()?;
            Some(StopFact {
                started_at: interval.started_at,
                ended: interval.ended,
                small_stop_threshold: interval.small_stop_threshold,
                loss: stop.reason.as_ref().map(|reason| reason.loss_category),
                reason: stop.reason.map(|reason| reason.code),
            })
        })
        .collect();
    let counts = sums
        .into_iter()
        .map(|(total, good, ideal_total, ideal_good, unpriced, startup, ideal_startup)| CountSums {
            total,
            good,
            ideal_total_ms: ideal_total,
            ideal_good_ms: ideal_good,
            units_without_ideal_cycle_time: unpriced,
            startup_rejects: startup,
            ideal_startup_reject_ms: ideal_startup,
        })
        .collect();
    Ok((stops, counts))
}

/// The local date that starts the day, week or month `date` lies in, and the one that starts the next.
fn bounds(grouping: Granularity, date: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    match grouping {
        Granularity::Week => {
            let monday = date - Duration::days(i64::from(date.weekday().num_days_from_monday()));
            Some((monday, monday + Duration::days(7)))
        }
        Granularity::Month => {
            let first = date.with_day(1)?;
            Some((first, first.checked_add_months(Months::new(1))?))
        }
        _ => Some((date, date.succ_opt()?)),
    }
}

/// Shift occurrences summed per local day, week or month (by the date each starts on), each over its
/// whole local time within `range` (a day of 23, 24 or 25 hours): what utilization and TEEP divide by.
/// Every day, week or month the range touches is a period, with or without shifts: a holiday is there,
/// with utilization 0 and no OEE. A period with shifts runs from its first shift's start to its last
/// one's end; one without, over its local time.
fn grouped(shifts: Vec<Period>, grouping: Granularity, zone: Tz, range: Interval, now: DateTime<Utc>) -> Vec<Period> {
    let midnight = |date: NaiveDate| local_instant(zone, date.and_time(chrono::NaiveTime::MIN));
    let last = range.end().with_timezone(&zone).date_naive();
    let mut date = range.start().with_timezone(&zone).date_naive();
    let mut shifts = shifts.into_iter().peekable();
    let mut periods = Vec::new();
    while let Some((first, next)) = bounds(grouping, date).filter(|_| date <= last) {
        date = next;
        let parts: Vec<Period> =
            std::iter::from_fn(|| shifts.next_if(|shift| shift.date.is_some_and(|day| day < next))).collect();
        let Some(calendar) = Interval::new(midnight(first), midnight(next)).and_then(|whole| whole.clip(&range)) else {
            continue;
        };
        let oee = roll_up_windows(parts.iter().map(|part| &part.oee)).over(calendar, now);
        let start = parts.first().map_or(calendar.start(), |part| part.start);
        let end = parts.iter().map(|part| part.end).max().unwrap_or(calendar.end());
        periods.push(Period { start, end, shift: None, date: Some(first), crew: None, oee });
    }
    periods
}
