//! Shift occurrences: a line's shift definitions (site-local wall-clock times) turned into UTC
//! intervals for one local date. A shift belongs to the date it starts; one that ends at or before its
//! start ends the next day. On DST days the wall clock skips or repeats an hour, so occurrences are
//! 7 or 9 hours long where the definition says 8, and a day's shifts add up to 23 or 25 hours.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::interval::Interval;
use crate::line::ShiftDefinition;
use crate::values::ShiftName;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftOccurrence {
    pub shift: ShiftName,
    /// The local date the shift starts on.
    pub date: NaiveDate,
    pub interval: Interval,
    pub breaks: Vec<Interval>,
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
    shifts
        .iter()
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
            Some(ShiftOccurrence { shift: shift.name.clone(), date, interval, breaks })
        })
        .collect()
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
            name: ShiftName::parse(name).unwrap_or_else(|_| panic!()),
            start: time(start),
            end: time(end),
            breaks: vec![],
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
            PlannedBreak { start: time("23:45"), duration: Millis::new(30 * 60_000).unwrap_or_else(|_| panic!()) },
            PlannedBreak { start: time("03:00"), duration: Millis::new(15 * 60_000).unwrap_or_else(|_| panic!()) },
        ];
        let occurrence = occurrences(&[night], chrono_tz::Europe::Berlin, date("2026-03-02")).remove(0);
        assert_eq!(occurrence.breaks[1].start().to_rfc3339(), "2026-03-03T02:00:00+00:00");
        assert_eq!(occurrence.planned_production_ms(), 8 * HOUR - 45 * 60_000);
    }
}
