//! Rotating crews (docs/oee.md, "Crews"): which crew works each shift, as a cycle of days that repeats
//! from an anchor date (a 2-2-3 rotation of four crews is a 14-day cycle), so every shift occurrence
//! can name its crew.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::values::{Name, ShiftName, ValueError};

/// The longest cycle a rotation may have, in days.
pub const LONGEST_CYCLE_DAYS: usize = 366;

/// A cycle of days starting on `anchor`; day `i` of the cycle names the crew of each shift that starts
/// on it (a shift it does not name has no crew that day). Never empty, at most [`LONGEST_CYCLE_DAYS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawRotation")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CrewRotation {
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "2026-01-05"))]
    anchor: NaiveDate,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<BTreeMap<String, String>>))]
    days: Vec<BTreeMap<ShiftName, Name>>,
}

#[derive(Deserialize)]
struct RawRotation {
    anchor: NaiveDate,
    days: Vec<BTreeMap<ShiftName, Name>>,
}

impl TryFrom<RawRotation> for CrewRotation {
    type Error = ValueError;
    fn try_from(raw: RawRotation) -> Result<Self, ValueError> {
        Self::new(raw.anchor, raw.days)
    }
}

impl CrewRotation {
    pub fn new(anchor: NaiveDate, days: Vec<BTreeMap<ShiftName, Name>>) -> Result<Self, ValueError> {
        if days.is_empty() {
            return Err(ValueError::Empty { what: "crew rotation" });
        }
        if days.len() > LONGEST_CYCLE_DAYS {
            return Err(ValueError::TooLong { what: "crew rotation", max: LONGEST_CYCLE_DAYS });
        }
        Ok(Self { anchor, days })
    }

    /// The crew of `shift` starting on `date`; dates before the anchor count back through the cycle.
    pub fn crew_on(&self, date: NaiveDate, shift: &ShiftName) -> Option<&Name> {
        let length = i64::try_from(self.days.len()).ok()?;
        let day = usize::try_from((date - self.anchor).num_days().rem_euclid(length)).ok()?;
        self.days.get(day)?.get(shift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_default()
    }

    /// A 2-2-3 rotation of four crews on two 12-hour shifts: A and B share the days (A on days 1-2, 5-7,
    /// 10-11 of the fortnight, B on the others), C and D the nights likewise.
    #[test]
    fn a_two_two_three_rotation_names_the_crew_of_every_shift_and_repeats_every_fourteen_days() {
        let day = ShiftName::parse("day").unwrap_or_else(|_| panic!("valid"));
        let night = ShiftName::parse("night").unwrap_or_else(|_| panic!("valid"));
        let pattern = "AABBAAABBAABBB";
        let days = pattern
            .chars()
            .map(|first| {
                let (on_days, on_nights) = if first == 'A' { ("A", "C") } else { ("B", "D") };
                BTreeMap::from([
                    (day.clone(), Name::parse(on_days).unwrap_or_else(|_| panic!("valid"))),
                    (night.clone(), Name::parse(on_nights).unwrap_or_else(|_| panic!("valid"))),
                ])
            })
            .collect();
        let rotation = CrewRotation::new(date("2026-03-02"), days).unwrap_or_else(|_| panic!("valid"));
        let crew = |on: &str, shift: &ShiftName| rotation.crew_on(date(on), shift).map(Name::to_string);
        assert_eq!(crew("2026-03-02", &day).as_deref(), Some("A"));
        assert_eq!(crew("2026-03-04", &night).as_deref(), Some("D"));
        assert_eq!(crew("2026-03-08", &day).as_deref(), Some("A"), "day 7 of the pattern");
        assert_eq!(crew("2026-03-16", &day), crew("2026-03-02", &day), "fourteen days later");
        assert_eq!(crew("2026-03-01", &day).as_deref(), Some("B"), "the day before the anchor is the cycle's last");
        assert_eq!(rotation.crew_on(date("2026-03-02"), &ShiftName::parse("late").unwrap_or_else(|_| panic!())), None);
        assert!(CrewRotation::new(date("2026-03-02"), Vec::new()).is_err());
        assert!(CrewRotation::new(date("2026-03-02"), vec![BTreeMap::new(); LONGEST_CYCLE_DAYS + 1]).is_err());
    }
}
