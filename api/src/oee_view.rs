//! OEE as the API answers it: the HTTP contract's own types, converted from `domain::oee` and the OEE
//! read model's query, so that either can change without changing the contract. The JSON is exactly
//! what those types serialise to.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use domain::oee::{LossPart, LossTree, OeeFigures, OeeInputs, Ratio, WindowOee};
use projections::read_models::oee::query::{LineOee, Period};
use serde::Serialize;
use utoipa::ToSchema;

/// An exact ratio; `percent` is for display (hundredths of a percent, rounded).
#[derive(Debug, Serialize, ToSchema)]
pub struct RatioView {
    pub numerator: u128,
    pub denominator: u128,
    pub percent: f64,
}

impl From<Ratio> for RatioView {
    fn from(ratio: Ratio) -> Self {
        Self {
            numerator: ratio.numerator,
            denominator: ratio.denominator,
            percent: ratio.basis_points() as f64 / 100.0,
        }
    }
}

/// What a period contributes; periods add up component by component.
#[derive(Debug, Serialize, ToSchema)]
pub struct InputsView {
    /// All time of the period (up to now while it runs), in ms: what utilization and TEEP divide by.
    pub calendar_ms: u64,
    /// Scheduled time minus planned stops, in ms.
    pub planned_production_ms: u64,
    /// Planned production time minus downtime (small stops stay in), in ms.
    pub run_ms: u64,
    /// Sum over counts of (ideal cycle time in force when made, in ms) x units.
    pub ideal_total_ms: u128,
    /// The same for good units only.
    pub ideal_good_ms: u128,
    pub total_count: u64,
    pub good_count: u64,
}

impl From<OeeInputs> for InputsView {
    fn from(inputs: OeeInputs) -> Self {
        let OeeInputs {
            calendar_ms,
            planned_production_ms,
            run_ms,
            ideal_total_ms,
            ideal_good_ms,
            total_count,
            good_count,
        } = inputs;
        Self { calendar_ms, planned_production_ms, run_ms, ideal_total_ms, ideal_good_ms, total_count, good_count }
    }
}

/// The figures, each `null` where undefined (docs/oee.md).
#[derive(Debug, Serialize, ToSchema)]
pub struct FiguresView {
    pub availability: Option<RatioView>,
    pub performance: Option<RatioView>,
    pub quality: Option<RatioView>,
    pub oee: Option<RatioView>,
    /// Planned production time / all time of the period (`calendar_ms`).
    pub utilization: Option<RatioView>,
    /// OEE x utilization; `null` where OEE is.
    pub teep: Option<RatioView>,
    /// Performance above 100 % is kept uncapped and flagged: the ideal cycle time is probably wrong.
    pub performance_above_ideal: bool,
}

impl From<OeeFigures> for FiguresView {
    fn from(figures: OeeFigures) -> Self {
        Self {
            availability: figures.availability.map(RatioView::from),
            performance: figures.performance.map(RatioView::from),
            quality: figures.quality.map(RatioView::from),
            oee: figures.oee.map(RatioView::from),
            utilization: figures.utilization.map(RatioView::from),
            teep: figures.teep.map(RatioView::from),
            performance_above_ideal: figures.performance_above_ideal,
        }
    }
}

/// A half-open interval [start, end).
#[derive(Debug, Serialize, ToSchema)]
pub struct IntervalView {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// One window's OEE with the breakdown behind it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WindowView {
    /// The window as measured: cut at "now" while it is still running.
    pub window: Option<IntervalView>,
    pub inputs: InputsView,
    pub figures: FiguresView,
    /// Scheduled time minus planned breaks, before planned stops come off.
    pub scheduled_ms: u64,
    /// Stops booked to a planned category, inside scheduled time.
    pub planned_stop_ms: u64,
    /// Downtime inside planned production time by loss category; `unassigned` while no reason is given.
    pub downtime_ms: BTreeMap<String, u64>,
    /// The same by reason code.
    pub downtime_by_reason_ms: BTreeMap<String, u64>,
    pub small_stops: u64,
    pub small_stop_ms: u64,
    /// An open stop counts in this window: its figures change until it ends.
    pub provisional: bool,
    /// The window reaches past "now".
    pub in_progress: bool,
    pub units_without_ideal_cycle_time: u64,
    /// Corrections took a count of this window below zero; the count is shown as zero.
    pub counts_below_zero: bool,
    pub loss_tree: LossTreeView,
}

/// Planned production time broken into the six big losses (docs/oee.md, "The loss tree"): the parts'
/// `ms` add up exactly to `planned_production_ms`, in waterfall order.
#[derive(Debug, Serialize, ToSchema)]
pub struct LossTreeView {
    pub planned_production_ms: u64,
    /// `unplanned_stops`, `setups`, `small_stops`, `slow_cycles`, `startup_rejects`,
    /// `production_rejects`, `fully_productive`.
    pub parts: Vec<LossPartView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LossPartView {
    pub part: LossPart,
    /// Exact; negative only for slow cycles faster than ideal or rejects corrected away.
    pub ms: i128,
    /// `ms` in minutes, rounded to hundredths, for display.
    pub minutes: f64,
    /// Rejects and fully productive time: the units counted. Time losses: the units the period's
    /// average ideal cycle time would have made in that time, rounded to hundredths; `null` while
    /// nothing was made.
    pub units: Option<f64>,
}

impl From<LossTree> for LossTreeView {
    fn from(tree: LossTree) -> Self {
        let hundredths = |value: f64| (value * 100.0).round() / 100.0;
        let at_average_rate = |ms: i128| {
            (tree.ideal_total_ms > 0)
                .then(|| hundredths(ms as f64 * tree.total_count as f64 / tree.ideal_total_ms as f64))
        };
        let parts = tree
            .parts_ms()
            .into_iter()
            .map(|(part, ms)| {
                let units = tree.units_counted(part).map_or_else(|| at_average_rate(ms), |units| Some(units as f64));
                LossPartView { part, ms, minutes: hundredths(ms as f64 / 60_000.0), units }
            })
            .collect();
        Self { planned_production_ms: tree.planned_production_ms, parts }
    }
}

impl From<WindowOee> for WindowView {
    fn from(oee: WindowOee) -> Self {
        let loss_tree = oee.loss_tree();
        Self {
            window: oee.window.map(|window| IntervalView { start: window.start(), end: window.end() }),
            inputs: oee.inputs.into(),
            figures: oee.figures.into(),
            scheduled_ms: oee.scheduled_ms,
            planned_stop_ms: oee.planned_stop_ms,
            downtime_ms: oee.downtime_ms,
            downtime_by_reason_ms: oee.downtime_by_reason_ms,
            small_stops: oee.small_stops,
            small_stop_ms: oee.small_stop_ms,
            provisional: oee.provisional,
            in_progress: oee.in_progress,
            units_without_ideal_cycle_time: oee.units_without_ideal_cycle_time,
            counts_below_zero: oee.counts_below_zero,
            loss_tree: loss_tree.into(),
        }
    }
}

/// One period: `shift` names the shift of a shift occurrence; `date` is the local date of a shift
/// occurrence or a day.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodView {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub shift: Option<String>,
    pub date: Option<NaiveDate>,
    /// The crew of a shift occurrence, when the line's rotation names one.
    pub crew: Option<String>,
    pub oee: WindowView,
}

impl From<Period> for PeriodView {
    fn from(period: Period) -> Self {
        Self {
            start: period.start,
            end: period.end,
            shift: period.shift,
            date: period.date,
            crew: period.crew,
            oee: period.oee.into(),
        }
    }
}

/// A line's periods and their total.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineOeeView {
    pub line: String,
    pub time_zone: String,
    pub periods: Vec<PeriodView>,
    /// The periods summed: times and weighted counts add up, percentages are never averaged.
    pub total: WindowView,
}

impl From<LineOee> for LineOeeView {
    fn from(oee: LineOee) -> Self {
        Self {
            line: oee.line,
            time_zone: oee.time_zone,
            periods: oee.periods.into_iter().map(PeriodView::from).collect(),
            total: oee.total.into(),
        }
    }
}
