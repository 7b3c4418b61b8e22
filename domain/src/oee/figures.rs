//! OEE figures from exact inputs (docs/oee.md): integer milliseconds and counts, ratios formed at the end,
//! rounding only for display. A factor that has no meaning for a period is `None`, never 0 or 1.

use std::ops::Add;

use serde::{Deserialize, Serialize};

use crate::values::Millis;

/// An exact non-negative ratio. Written with its `percent` (rounded to hundredths, for display) beside
/// the exact numerator and denominator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Ratio {
    pub numerator: u128,
    pub denominator: u128,
}

impl Ratio {
    /// `None` when the denominator is zero: the ratio is undefined, not zero.
    pub fn new(numerator: u128, denominator: u128) -> Option<Self> {
        (denominator > 0).then_some(Self { numerator, denominator })
    }

    const ZERO: Ratio = Ratio { numerator: 0, denominator: 1 };

    /// Hundredths of a percent, rounded half up: 8881 means 88.81 %.
    pub fn basis_points(self) -> u128 {
        (self.numerator * 20_000 + self.denominator) / (2 * self.denominator)
    }

    pub fn exceeds_one(self) -> bool {
        self.numerator > self.denominator
    }
}

impl Serialize for Ratio {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut ratio = serializer.serialize_struct("Ratio", 3)?;
        ratio.serialize_field("numerator", &self.numerator)?;
        ratio.serialize_field("denominator", &self.denominator)?;
        // Basis points are an exact integer; as hundredths of a percent they print as e.g. 88.81.
        ratio.serialize_field("percent", &(self.basis_points() as f64 / 100.0))?;
        ratio.end()
    }
}

/// What one period (an hour, a shift occurrence, a day) contributes; periods add up component by
/// component, never by averaging their percentages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OeeInputs {
    /// All time of the period (its calendar time; up to now while it runs), in ms: what utilization and
    /// TEEP divide by.
    pub calendar_ms: u64,
    /// Scheduled time minus planned stops, in ms.
    pub planned_production_ms: u64,
    /// Planned production time minus downtime (small stops stay in), in ms.
    pub run_ms: u64,
    /// Sum over counts of (ideal cycle time in force when produced, in ms) x units, for all units.
    pub ideal_total_ms: u128,
    /// The same for good units only.
    pub ideal_good_ms: u128,
    pub total_count: u64,
    pub good_count: u64,
}

impl OeeInputs {
    /// Books `total` units, `good` of them good, made at `ideal_cycle_time` per unit.
    pub fn count(&mut self, ideal_cycle_time: Millis, total: u64, good: u64) {
        let ideal = u128::from(ideal_cycle_time.get());
        self.ideal_total_ms += ideal * u128::from(total);
        self.ideal_good_ms += ideal * u128::from(good);
        self.total_count += total;
        self.good_count += good;
    }

    pub fn figures(&self) -> OeeFigures {
        let (planned, calendar) = (u128::from(self.planned_production_ms), u128::from(self.calendar_ms));
        // Utilization has a meaning without planned time (none of the period was planned: 0), TEEP
        // does not: it is OEE x utilization, and OEE is undefined then.
        let utilization = Ratio::new(planned, calendar);
        if self.planned_production_ms == 0 {
            return OeeFigures { utilization, ..OeeFigures::default() };
        }
        let run = u128::from(self.run_ms);
        let performance = Ratio::new(self.ideal_total_ms, run);
        let oee = if run == 0 { Some(Ratio::ZERO) } else { Ratio::new(self.ideal_good_ms, planned) };
        // OEE x utilization: (ideal good / planned) x (planned / calendar), exactly.
        let teep =
            oee.and_then(
                |oee| if oee == Ratio::ZERO { Some(Ratio::ZERO) } else { Ratio::new(self.ideal_good_ms, calendar) },
            );
        OeeFigures {
            availability: Ratio::new(run, planned),
            performance,
            quality: Ratio::new(u128::from(self.good_count), u128::from(self.total_count)),
            oee,
            utilization,
            teep,
            performance_above_ideal: performance.is_some_and(Ratio::exceeds_one),
        }
    }
}

impl Add for OeeInputs {
    type Output = OeeInputs;
    fn add(self, other: OeeInputs) -> OeeInputs {
        OeeInputs {
            calendar_ms: self.calendar_ms + other.calendar_ms,
            planned_production_ms: self.planned_production_ms + other.planned_production_ms,
            run_ms: self.run_ms + other.run_ms,
            ideal_total_ms: self.ideal_total_ms + other.ideal_total_ms,
            ideal_good_ms: self.ideal_good_ms + other.ideal_good_ms,
            total_count: self.total_count + other.total_count,
            good_count: self.good_count + other.good_count,
        }
    }
}

/// Sums periods for a line, shift, day, area or site. A period without planned production time is
/// left out of every input but its calendar time (docs/oee.md): its OEE is undefined, not zero, and the
/// time that was not planned is exactly what utilization and TEEP account for.
pub fn roll_up<'a>(parts: impl IntoIterator<Item = &'a OeeInputs>) -> OeeInputs {
    parts.into_iter().fold(OeeInputs::default(), |sum, part| {
        if part.planned_production_ms > 0 {
            sum + *part
        } else {
            OeeInputs { calendar_ms: sum.calendar_ms + part.calendar_ms, ..sum }
        }
    })
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OeeFigures {
    pub availability: Option<Ratio>,
    pub performance: Option<Ratio>,
    pub quality: Option<Ratio>,
    pub oee: Option<Ratio>,
    /// Planned production time / all time of the period.
    pub utilization: Option<Ratio>,
    /// OEE x utilization: effectively productive time (ideal time of the good units) / all time.
    pub teep: Option<Ratio>,
    /// Performance above 100 % is kept uncapped and flagged: the ideal cycle time is probably wrong.
    pub performance_above_ideal: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: u64 = 60_000;

    fn bp(ratio: Option<Ratio>) -> Option<u128> {
        ratio.map(Ratio::basis_points)
    }

    /// docs/oee.md's published example: 480-minute shift, 60 minutes of breaks, 47 minutes unplanned
    /// downtime, ideal cycle time 1.0 s, 19,271 units of which 423 rejects.
    #[test]
    fn the_published_worked_example() {
        let mut shift = OeeInputs { planned_production_ms: 420 * MINUTE, run_ms: 373 * MINUTE, ..OeeInputs::default() };
        shift.count(Millis::new(1000).unwrap(), 19_271, 19_271 - 423);
        assert_eq!(shift.good_count, 18_848);
        let figures = shift.figures();
        assert_eq!(bp(figures.availability), Some(8881));
        assert_eq!(bp(figures.performance), Some(8611));
        assert_eq!(bp(figures.quality), Some(9780));
        assert_eq!(bp(figures.oee), Some(7479));
        assert!(!figures.performance_above_ideal);
    }

    #[test]
    fn without_planned_production_time_every_factor_is_undefined() {
        let mut idle = OeeInputs::default();
        idle.count(Millis::new(1000).unwrap(), 5, 5);
        assert_eq!(idle.figures(), OeeFigures::default());
        // A holiday: a whole day, nothing planned. Utilization is 0; OEE and so TEEP are undefined.
        let holiday = OeeInputs { calendar_ms: 1_440 * MINUTE, ..OeeInputs::default() };
        let figures = holiday.figures();
        assert_eq!((bp(figures.utilization), figures.oee, figures.teep), (Some(0), None, None));
    }

    /// Our worked example for utilization and TEEP: one day (1,440 min) with one shift of 480 min, of
    /// which 30 min break and 30 min planned maintenance: planned production time 420 min. 47 min
    /// unplanned downtime, ideal cycle time 1.0 s, 20,000 units made, 400 rejected.
    /// Utilization = 420 / 1,440 = 29.17 %. OEE = 19,600 s / 25,200 s = 77.78 %.
    /// TEEP = OEE x utilization = 19,600 s / 86,400 s = 22.69 %.
    #[test]
    fn utilization_and_teep_of_a_day_with_one_shift() {
        let mut day = OeeInputs {
            calendar_ms: 1_440 * MINUTE,
            planned_production_ms: 420 * MINUTE,
            run_ms: 373 * MINUTE,
            ..OeeInputs::default()
        };
        day.count(Millis::new(1000).unwrap(), 20_000, 19_600);
        let figures = day.figures();
        assert_eq!(bp(figures.utilization), Some(2_917));
        assert_eq!(bp(figures.oee), Some(7_778));
        assert_eq!(bp(figures.teep), Some(2_269));
        let (oee, utilization, teep) = (figures.oee.unwrap(), figures.utilization.unwrap(), figures.teep.unwrap());
        assert_eq!(
            teep.numerator * oee.denominator * utilization.denominator,
            oee.numerator * utilization.numerator * teep.denominator,
            "TEEP is OEE x utilization exactly"
        );
        // With no run time at all, OEE and so TEEP are 0, utilization what was planned.
        let stopped =
            OeeInputs { calendar_ms: 1_440 * MINUTE, planned_production_ms: 420 * MINUTE, ..OeeInputs::default() };
        assert_eq!((bp(stopped.figures().teep), bp(stopped.figures().utilization)), (Some(0), Some(2_917)));
    }

    #[test]
    fn with_no_run_time_availability_and_oee_are_zero_and_performance_undefined() {
        let stopped = OeeInputs { planned_production_ms: 60 * MINUTE, ..OeeInputs::default() };
        let figures = stopped.figures();
        assert_eq!((bp(figures.availability), figures.performance, bp(figures.oee)), (Some(0), None, Some(0)));
    }

    #[test]
    fn with_no_units_performance_and_oee_are_zero_and_quality_undefined() {
        let idle = OeeInputs { planned_production_ms: 60 * MINUTE, run_ms: 60 * MINUTE, ..OeeInputs::default() };
        let figures = idle.figures();
        assert_eq!((bp(figures.performance), figures.quality, bp(figures.oee)), (Some(0), None, Some(0)));
    }

    #[test]
    fn performance_above_100_percent_is_kept_and_flagged() {
        let mut fast = OeeInputs { planned_production_ms: 60 * MINUTE, run_ms: 60 * MINUTE, ..OeeInputs::default() };
        fast.count(Millis::new(1000).unwrap(), 4_000, 4_000);
        let figures = fast.figures();
        assert_eq!(bp(figures.performance), Some(11_111));
        assert!(figures.performance_above_ideal);
    }

    #[test]
    fn each_unit_carries_the_ideal_cycle_time_of_its_product() {
        let mut mixed = OeeInputs { planned_production_ms: 60 * MINUTE, run_ms: 60 * MINUTE, ..OeeInputs::default() };
        mixed.count(Millis::new(1000).unwrap(), 1_800, 1_800);
        mixed.count(Millis::new(2000).unwrap(), 900, 450);
        let figures = mixed.figures();
        assert_eq!(bp(figures.performance), Some(10_000));
        assert_eq!(bp(figures.oee), Some(7_500), "(1,800 x 1 s + 450 x 2 s) / 3,600 s");
    }

    #[test]
    fn roll_ups_sum_components_and_skip_periods_without_planned_time() {
        let mut busy = OeeInputs { planned_production_ms: 400 * MINUTE, run_ms: 400 * MINUTE, ..OeeInputs::default() };
        busy.count(Millis::new(1000).unwrap(), 24_000, 24_000);
        let mut short = OeeInputs { planned_production_ms: 100 * MINUTE, run_ms: 50 * MINUTE, ..OeeInputs::default() };
        short.count(Millis::new(1000).unwrap(), 1_500, 1_500);
        let mut unplanned = OeeInputs { calendar_ms: 500 * MINUTE, ..OeeInputs::default() };
        unplanned.count(Millis::new(1000).unwrap(), 99, 99);
        busy.calendar_ms = 400 * MINUTE;
        short.calendar_ms = 100 * MINUTE;
        let total = roll_up([&busy, &short, &unplanned]);
        assert_eq!(total.total_count, 25_500, "the unplanned period is left out");
        // Averaging the two availabilities (100 % and 50 %) would say 75 %; the sum says 450 / 500.
        assert_eq!(bp(total.figures().availability), Some(9_000));
        // Its calendar time stays in: 500 of 1,000 minutes were planned.
        assert_eq!(bp(total.figures().utilization), Some(5_000));
    }
}
