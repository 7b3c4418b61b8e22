//! Shift occurrences: a line's shift definitions (site-local wall-clock times) turned into UTC
//! intervals for one local date. A shift belongs to the date it starts; one that ends at or before its
//! start ends the next day. On DST days the wall clock skips or repeats an hour, so occurrences are
//! 7 or 9 hours long where the definition says 8, and a day's shifts add up to 23 or 25 hours.

use chrono::{
    DateTime, Datelike as _, Duration, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::interval::Interval;
use crate::line::{Day, NonProductionDay, ShiftDefinition, Versioned};
use crate::values::ShiftName;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftOccurrence {
    pub shift: ShiftName,
    /// The local date the shift starts on.
    pub date: NaiveDate,
    pub interval: Interval,
    pub breaks: Vec<Interval>,
    /// The crew the line's rotation in force at its start names for it (`Line::scheduled`).
    #[serde(default)]
    pub crew: Option<crate::values::Name>,
}

impl ShiftOccurrence {
    /// Scheduled time minus planned breaks, in ms.
    pub fn planned_production_ms(&self) -> u64 {
        let breaks: u64 = self.breaks.iter().filter_map(|b| b.clip(&self.interval)).map(|b| b.duration_ms()).sum();
        self.interval.duration_ms().saturating_sub(breaks)
    }
}

/// The instant a local wall-clock time names. A time the clock skipped (spring forward) is read with
/// the offset before the gap, landing as far after the gap's start as it was meant to; a time the
/// clock showed twice (fall back) is its first occurrence.
pub fn local_instant(zone: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(instant) | LocalResult::Ambiguous(instant, _) => instant.with_timezone(&Utc),
        LocalResult::None => {
            // Gaps are at most a few hours, so three hours earlier the clock still had its old offset.
            let before_gap = zone.offset_from_local_datetime(&(local - Duration::hours(3))).earliest();
            let offset = before_gap.map_or(0, |offset| offset.fix().local_minus_utc());
            (local - Duration::seconds(i64::from(offset))).and_utc()
        }
    }
}

/// Every shift of the calendar that starts on `date`, in the calendar's order.
pub fn occurrences(shifts: &[ShiftDefinition], zone: Tz, date: NaiveDate) -> Vec<ShiftOccurrence> {
    let next_day = date.succ_opt().unwrap_or(date);
    let day = Day::of(date.weekday());
    shifts
        .iter()
        .filter(|shift| shift.days.contains(day))
        .filter_map(|shift| {
            let end_date = if shift.end <= shift.start { next_day } else { date };
            let interval = Interval::new(
                local_instant(zone, date.and_time(shift.start)),
                local_instant(zone, end_date.and_time(shift.end)),
            )?;
            let breaks = shift
                .breaks
                .iter()
                .filter_map(|planned| {
                    let on = if planned.start < shift.start { next_day } else { date };
                    let start = local_instant(zone, on.and_time(planned.start));
                    let length = i64::try_from(planned.duration.get()).unwrap_or(i64::MAX);
                    Interval::new(start, start + Duration::milliseconds(length))
                })
                .collect();
            Some(ShiftOccurrence { shift: shift.name.clone(), date, interval, breaks, crew: None })
        })
        .collect()
}

/// The shift occurrences that start in `range` under a versioned calendar: each occurrence follows the
/// calendar version in force at its start, so a change of calendar never rewrites earlier shifts, and
/// none starts on a date of the non-production days (`closed`) in force at its start.
pub fn scheduled(
    calendars: &[Versioned<Vec<ShiftDefinition>>],
    closed: &[Versioned<Vec<NonProductionDay>>],
    zone: Tz,
    range: Interval,
) -> Vec<ShiftOccurrence> {
    let first = range.start().with_timezone(&zone).date_naive().pred_opt().unwrap_or(NaiveDate::MIN);
    let last = range.end().with_timezone(&zone).date_naive();
    let mut found = Vec::new();
    for date in first.iter_days().take_while(|date| *date <= last) {
        for (index, version) in calendars.iter().enumerate() {
            let until = calendars.get(index + 1).map(|next| next.effective_from);
            found.extend(occurrences(&version.value, zone, date).into_iter().filter(|occurrence| {
                let start = occurrence.interval.start();
                start >= version.effective_from
                    && until.is_none_or(|until| start < until)
                    && start >= range.start()
                    && start < range.end()
                    && !closed_on(closed, occurrence.date, start)
            }));
        }
    }
    found.sort_by_key(|occurrence| occurrence.interval.start());
    found
}

/// Whether `date` is a non-production day in the list in force at `at`.
fn closed_on(closed: &[Versioned<Vec<NonProductionDay>>], date: NaiveDate, at: DateTime<Utc>) -> bool {
    closed
        .iter()
        .rev()
        .find(|version| version.effective_from <= at)
        .is_some_and(|version| version.value.iter().any(|day| day.date == date))
}

/// The local clock hours that start in `range`, as UTC intervals. Hours follow the zone's offset, so a
/// zone half an hour off UTC gets hours at half past in UTC, and DST days have 23 or 25 of them.
pub fn local_hours(zone: Tz, range: Interval) -> Vec<Interval> {
    const HOUR: Duration = Duration::hours(1);
    let local = range.start().with_timezone(&zone);
    let past_the_hour = Duration::seconds(i64::from(local.minute()) * 60 + i64::from(local.second()))
        + Duration::nanoseconds(i64::from(local.nanosecond()));
    let mut start = range.start() - past_the_hour;
    if start < range.start() {
        start += HOUR;
    }
    let mut hours = Vec::new();
    while start < range.end() {
        hours.extend(Interval::new(start, start + HOUR));
        start += HOUR;
    }
    hours
}

#[cfg(test)]
mod tests {
    use chrono::NaiveTime;

    use super::*;
    use crate::line::PlannedBreak;
    use crate::values::Millis;

    const HOUR: u64 = 3_600_000;

    fn time(hhmm: &str) -> NaiveTime {
        NaiveTime::parse_from_str(hhmm, "%H:%M").unwrap_or_default()
    }
    fn shift(name: &str, start: &str, end: &str) -> ShiftDefinition {
        ShiftDefinition {
            name: ShiftName::parse(name).unwrap(),
            start: time(start),
            end: time(end),
            breaks: vec![],
            days: crate::line::Weekdays::default(),
        }
    }
    fn three_shifts() -> Vec<ShiftDefinition> {
        vec![shift("early", "06:00", "14:00"), shift("late", "14:00", "22:00"), shift("night", "22:00", "06:00")]
    }
    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_default()
    }
    fn hours_on(day: &str) -> Vec<u64> {
        occurrences(&three_shifts(), chrono_tz::Europe::Berlin, date(day))
            .iter()
            .map(|o| o.interval.duration_ms() / 60_000)
            .collect()
    }

    #[test]
    fn an_ordinary_day_has_three_eight_hour_shifts_and_the_night_shift_ends_the_next_day() {
        let day = occurrences(&three_shifts(), chrono_tz::Europe::Berlin, date("2026-03-02"));
        assert_eq!(hours_on("2026-03-02"), [480, 480, 480]);
        assert_eq!(day[0].interval.start().to_rfc3339(), "2026-03-02T05:00:00+00:00");
        assert_eq!(day[2].interval.end().to_rfc3339(), "2026-03-03T05:00:00+00:00");
        assert_eq!(day[2].date, date("2026-03-02"), "a night shift belongs to the date it starts");
    }

    #[test]
    fn the_spring_forward_night_is_seven_hours_and_the_day_twenty_three() {
        assert_eq!(hours_on("2026-03-28"), [480, 480, 420]);
        let total: u64 = occurrences(&three_shifts(), chrono_tz::Europe::Berlin, date("2026-03-28"))
            .iter()
            .map(|o| o.interval.duration_ms())
            .sum();
        assert_eq!(total, 23 * HOUR);
    }

    #[test]
    fn the_fall_back_night_is_nine_hours_and_the_day_twenty_five() {
        assert_eq!(hours_on("2026-10-24"), [480, 480, 540]);
    }

    #[test]
    fn skipped_and_repeated_wall_clock_times_resolve_to_one_instant() {
        let berlin = chrono_tz::Europe::Berlin;
        let skipped = local_instant(berlin, date("2026-03-29").and_time(time("02:30")));
        assert_eq!(skipped.to_rfc3339(), "2026-03-29T01:30:00+00:00", "read with the offset before the gap");
        let repeated = local_instant(berlin, date("2026-10-25").and_time(time("02:30")));
        assert_eq!(repeated.to_rfc3339(), "2026-10-25T00:30:00+00:00", "the first of the two 02:30s");
        // Far from UTC: Auckland skips 02:00-03:00 on 2026-09-27 (+12:00 to +13:00).
        let auckland = local_instant(chrono_tz::Pacific::Auckland, date("2026-09-27").and_time(time("02:30")));
        assert_eq!(auckland.to_rfc3339(), "2026-09-26T14:30:00+00:00");
    }

    #[test]
    fn breaks_come_off_planned_production_time_including_after_midnight() {
        let mut night = shift("night", "22:00", "06:00");
        night.breaks = vec![
            PlannedBreak { start: time("23:45"), duration: Millis::new(30 * 60_000).unwrap() },
            PlannedBreak { start: time("03:00"), duration: Millis::new(15 * 60_000).unwrap() },
        ];
        let occurrence = occurrences(&[night], chrono_tz::Europe::Berlin, date("2026-03-02")).remove(0);
        assert_eq!(occurrence.breaks[1].start().to_rfc3339(), "2026-03-03T02:00:00+00:00");
        assert_eq!(occurrence.planned_production_ms(), 8 * HOUR - 45 * 60_000);
    }

    fn calendar(versions: Vec<(&str, Vec<ShiftDefinition>)>) -> Vec<Versioned<Vec<ShiftDefinition>>> {
        versions
            .into_iter()
            .zip(1..)
            .map(|((from, shifts), version)| Versioned {
                version,
                effective_from: DateTime::parse_from_rfc3339(from).map(|t| t.with_timezone(&Utc)).unwrap_or_default(),
                value: shifts,
            })
            .collect()
    }
    fn range(from: &str, to: &str) -> Interval {
        let at = |text: &str| DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).unwrap_or_default();
        Interval::new(at(from), at(to)).expect("empty range")
    }

    #[test]
    fn each_occurrence_follows_the_calendar_version_in_force_at_its_start() {
        let two_shifts = vec![shift("early", "06:00", "14:00"), shift("late", "14:00", "22:00")];
        let versions = calendar(vec![("2026-01-01T00:00:00Z", two_shifts), ("2026-03-03T12:00:00Z", three_shifts())]);
        let found =
            scheduled(&versions, &[], chrono_tz::Europe::Berlin, range("2026-03-03T00:00:00Z", "2026-03-04T00:00:00Z"));
        let names: Vec<_> = found.iter().map(|o| (o.shift.to_string(), o.date.to_string())).collect();
        assert_eq!(
            names,
            [("early", "2026-03-03"), ("late", "2026-03-03"), ("night", "2026-03-03")]
                .map(|(shift, date)| (shift.to_owned(), date.to_owned())),
            "the early shift started under version 1; late and night under version 2"
        );
        let before =
            scheduled(&versions, &[], chrono_tz::Europe::Berlin, range("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"));
        assert_eq!(before.len(), 2, "version 2 does not reach back: no night shift on 2 March");
    }

    #[test]
    fn local_hours_follow_the_zone_and_dst_days_have_23_or_25() {
        let india = local_hours(chrono_tz::Asia::Kolkata, range("2026-03-02T00:10:00Z", "2026-03-02T03:00:00Z"));
        let starts: Vec<_> = india.iter().map(|hour| hour.start().to_rfc3339()).collect();
        assert_eq!(starts, ["2026-03-02T00:30:00+00:00", "2026-03-02T01:30:00+00:00", "2026-03-02T02:30:00+00:00"]);
        let berlin = chrono_tz::Europe::Berlin;
        let day = |date: &str| {
            let midnight = |d: NaiveDate| local_instant(berlin, d.and_time(NaiveTime::MIN));
            let start = self::date(date);
            local_hours(berlin, Interval::new(midnight(start), midnight(start.succ_opt().unwrap_or(start))).unwrap())
        };
        assert_eq!((day("2026-03-29").len(), day("2026-10-25").len(), day("2026-03-02").len()), (23, 25, 24));
    }
}

#[cfg(test)]
mod shift_end_tests {
    use chrono::NaiveTime;

    use super::*;
    use crate::aggregate::Aggregate as _;
    use crate::line::{Line, LineEvent};
    use crate::values::Name;

    #[test]
    fn a_shift_end_is_found_only_in_the_window_that_holds_it_and_never_on_a_non_production_day() {
        let shift = ShiftDefinition {
            name: ShiftName::parse("early").unwrap_or_else(|_| unreachable!()),
            start: NaiveTime::from_hms_opt(6, 0, 0).unwrap_or_default(),
            end: NaiveTime::from_hms_opt(14, 0, 0).unwrap_or_default(),
            breaks: Vec::new(),
            days: crate::line::Weekdays::default(),
        };
        let at = |h, m| Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0).single().unwrap_or_default();
        let mut line = Line::default();
        let name = Name::parse("L3").unwrap_or_else(|_| unreachable!());
        let id = crate::line_id::LineId::parse("plant-1/packing/L3").unwrap_or_else(|_| unreachable!());
        // Berlin is UTC+1 in March: the shift ends at 13:00 UTC.
        line.apply(&LineEvent::LineRegistered { line: id, name: name.clone(), time_zone: chrono_tz::Europe::Berlin });
        let shifts = vec![shift];
        line.apply(&LineEvent::ShiftCalendarSet { version: 1, shifts, effective_from: at(0, 0), reason: None });
        assert!(line.a_shift_ends(at(12, 59), at(13, 0)));
        assert!(!line.a_shift_ends(at(13, 0), at(13, 30)), "already past");
        assert!(!line.a_shift_ends(at(12, 0), at(12, 59)), "not yet");
        let holiday = vec![NonProductionDay { date: at(0, 0).date_naive(), name }];
        line.apply(&LineEvent::NonProductionDaysSet {
            version: 1,
            days: holiday,
            effective_from: at(0, 0),
            reason: None,
        });
        assert!(!line.a_shift_ends(at(12, 59), at(13, 0)), "no shift on a non-production day");
    }
}
