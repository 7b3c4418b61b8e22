//! The hour-by-hour board of a shift (docs/oee.md, "Hour by hour"): per local clock hour of a shift
//! occurrence, the target from the planned minutes of that hour and the ideal cycle time in force, the
//! units made, the running difference, and the stop minutes with their main reason.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::window::WindowOee;
use crate::values::Millis;

/// One hour as the read model knows it: its OEE, and the product the line made last in or before it
/// with that product's ideal cycle time at the hour's start (none before anything was made).
#[derive(Debug, Clone)]
pub struct HourFacts {
    pub oee: WindowOee,
    pub product: Option<String>,
    pub ideal_cycle_time: Option<Millis>,
}

/// The reason with the most downtime in an hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MainReason {
    /// A reason code, or `unassigned` while stops have none.
    pub code: String,
    pub ms: u64,
}

/// One local clock hour of a shift (the first and last cut at the shift's edges).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HourRow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The product the line made last in the hour or the day before its end; `None` before anything.
    pub product: Option<String>,
    /// Its ideal cycle time in force at the hour's start.
    pub ideal_cycle_time_ms: Option<u64>,
    pub planned_production_ms: u64,
    /// Whole units the ideal cycle time allows in the hour's planned production time; `None` while no
    /// product is known.
    pub target: Option<u64>,
    pub good: u64,
    pub reject: u64,
    pub cumulative_target: u64,
    pub cumulative_good: u64,
    /// Cumulative good less cumulative target: behind when negative.
    pub difference: i64,
    /// Downtime and small stops inside planned production time.
    pub stop_ms: u64,
    pub main_reason: Option<MainReason>,
    /// An open stop counts in this hour.
    pub provisional: bool,
    pub in_progress: bool,
}

pub fn hour_by_hour(hours: Vec<HourFacts>) -> Vec<HourRow> {
    let (mut cumulative_target, mut cumulative_good) = (0u64, 0u64);
    hours
        .into_iter()
        .filter_map(|hour| {
            let window = hour.oee.window?;
            let inputs = hour.oee.inputs;
            let target = hour.ideal_cycle_time.map(|ideal| inputs.planned_production_ms / ideal.get());
            cumulative_target += target.unwrap_or(0);
            cumulative_good += inputs.good_count;
            let main_reason = hour
                .oee
                .downtime_by_reason_ms
                .iter()
                .max_by_key(|(_, ms)| **ms)
                .map(|(code, ms)| MainReason { code: code.clone(), ms: *ms });
            let signed = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
            Some(HourRow {
                start: window.start(),
                end: window.end(),
                product: hour.product,
                ideal_cycle_time_ms: hour.ideal_cycle_time.map(Millis::get),
                planned_production_ms: inputs.planned_production_ms,
                target,
                good: inputs.good_count,
                reject: inputs.total_count - inputs.good_count.min(inputs.total_count),
                cumulative_target,
                cumulative_good,
                difference: signed(cumulative_good) - signed(cumulative_target),
                stop_ms: inputs.planned_production_ms - inputs.run_ms + hour.oee.losses.small_stop_ms,
                main_reason,
                provisional: hour.oee.provisional,
                in_progress: hour.oee.in_progress,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::downtime::StopClass;
    use crate::oee::interval::tests::{at, between};
    use crate::oee::occurrences::ShiftOccurrence;
    use crate::oee::window::{CountSums, StopFact, window_oee};
    use crate::values::{LossCategory, ReasonCode, ShiftName};

    const MINUTE: u64 = 60_000;

    /// 06:00-09:00 with a break 08:00-08:15, ideal cycle time 1.0 s: targets 3,600, 3,600 and 2,700. A
    /// jam 07:10-07:30; 3,500, 2,000 and 2,800 good units.
    #[test]
    fn targets_follow_the_planned_minutes_of_each_hour_and_the_difference_accumulates() {
        let shift = ShiftOccurrence {
            shift: ShiftName::parse("early").unwrap(),
            date: NaiveDate::default(),
            interval: between("06:00", "09:00"),
            breaks: vec![between("08:00", "08:15")],
            crew: None,
        };
        let jam = StopFact {
            started_at: at("07:10"),
            ended: Some((at("07:30"), StopClass::Downtime)),
            small_stop_threshold: Millis::new(2 * MINUTE).unwrap(),
            loss: Some(LossCategory::Unplanned),
            reason: ReasonCode::parse("jam").ok(),
        };
        let made = [3_500, 2_000, 2_800];
        let hours = [("06:00", "07:00"), ("07:00", "08:00"), ("08:00", "09:00")]
            .iter()
            .zip(made)
            .map(|((from, to), good)| {
                let counts = CountSums { total: good + 10, good, ..CountSums::default() };
                HourFacts {
                    oee: window_oee(
                        between(from, to),
                        std::slice::from_ref(&shift),
                        std::slice::from_ref(&jam),
                        &counts,
                        at("23:00"),
                    ),
                    product: Some("SKU-1".to_owned()),
                    ideal_cycle_time: Millis::new(1000).ok(),
                }
            })
            .collect();
        let rows = hour_by_hour(hours);
        let column = |f: fn(&HourRow) -> i64| rows.iter().map(f).collect::<Vec<_>>();
        assert_eq!(column(|row| row.target.map_or(-1, |t| t as i64)), [3_600, 3_600, 2_700]);
        assert_eq!(column(|row| row.reject as i64), [10, 10, 10]);
        assert_eq!(column(|row| row.difference), [-100, -1_700, -1_600]);
        assert_eq!(rows[1].stop_ms, 20 * MINUTE);
        assert_eq!(rows[1].main_reason, Some(MainReason { code: "jam".to_owned(), ms: 20 * MINUTE }));
        assert_eq!((rows[0].main_reason.clone(), rows[2].cumulative_target), (None, 9_900));
    }
}
