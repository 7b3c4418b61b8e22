//! What the service should answer, recounted from the script alone with the domain's OEE arithmetic,
//! and the comparison with what it did answer.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::downtime::StopClass;
use domain::line::DEFAULT_SMALL_STOP_THRESHOLD;
use domain::oee::{CountSums, Interval, ShiftOccurrence, StopFact, WindowOee, window_oee};
use domain::values::{LossCategory, ReasonCode};
use serde_json::Value;
use uuid::Uuid;

use crate::plant::IDEAL_CYCLE_TIME_MS;
use crate::script::{Action, Step};

/// The facts of one line's script: its stops and the units each counter reading adds; and how the line
/// stands at the end: its running job, open stops and open Andon calls.
pub struct Recount {
    stops: Vec<StopFact>,
    /// (source time, total, good, start-up rejects) per reading after a job's baseline and per
    /// booking of warm-up rejects.
    counts: Vec<(DateTime<Utc>, i64, i64, i64)>,
    pub calls: usize,
    pub running_job: Option<Uuid>,
    pub open_stops: usize,
    pub open_calls: usize,
}

pub fn recount(steps: &[Step]) -> Recount {
    let mut started: BTreeMap<Uuid, DateTime<Utc>> = BTreeMap::new();
    let mut reasons: BTreeMap<Uuid, (&'static str, LossCategory)> = BTreeMap::new();
    let mut ended = Vec::new();
    let mut last: BTreeMap<Uuid, (u64, u64)> = BTreeMap::new();
    let mut recount =
        Recount { stops: Vec::new(), counts: Vec::new(), calls: 0, running_job: None, open_stops: 0, open_calls: 0 };
    for step in steps {
        match &step.action {
            Action::StopStarted { stop, .. } => {
                started.insert(*stop, step.at);
            }
            Action::StopEnded { stop, .. } => ended.push((*stop, step.at)),
            Action::Reason { stop, code, loss } => {
                reasons.insert(*stop, (*code, *loss));
            }
            Action::Counters { job, good, reject, .. } => {
                if let Some((good_before, reject_before)) = last.insert(*job, (*good, *reject)) {
                    let (made_good, made_reject) = (good - good_before, reject - reject_before);
                    let signed = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
                    recount.counts.push((step.at, signed(made_good + made_reject), signed(made_good), 0));
                }
            }
            Action::StartupRejects { units, .. } => {
                let units = i64::try_from(*units).unwrap_or(i64::MAX);
                recount.counts.push((step.at, units, 0, units));
            }
            Action::RaiseCall { .. } => {
                recount.calls += 1;
                recount.open_calls += 1;
            }
            Action::ResolveCall { .. } => recount.open_calls -= 1,
            Action::StartJob { job } => recount.running_job = Some(*job),
            Action::CompleteJob { .. } => recount.running_job = None,
        }
    }
    recount.open_stops = started.len() - ended.len();
    for (stop, at) in ended {
        let Some(start) = started.get(&stop).copied() else { continue };
        let short =
            (at - start).num_milliseconds() < i64::try_from(DEFAULT_SMALL_STOP_THRESHOLD.get()).unwrap_or(i64::MAX);
        recount.stops.push(StopFact {
            started_at: start,
            ended: Some((at, if short { StopClass::SmallStop } else { StopClass::Downtime })),
            small_stop_threshold: DEFAULT_SMALL_STOP_THRESHOLD,
            loss: reasons.get(&stop).map(|(_, loss)| *loss),
            reason: reasons.get(&stop).and_then(|(code, _)| ReasonCode::parse(code).ok()),
        });
    }
    recount
}

impl Recount {
    /// The state the status board must show at the end (`line_status`'s rule).
    pub fn state(&self) -> &'static str {
        match (self.open_stops, self.running_job) {
            (1.., _) => "stopped",
            (0, Some(_)) => "running",
            (0, None) => "unknown",
        }
    }

    /// The OEE the script gives `window`, as of `now`.
    pub fn window(&self, window: Interval, schedule: &[ShiftOccurrence], now: DateTime<Utc>) -> WindowOee {
        let mut sums = CountSums::default();
        let ideal = i128::from(IDEAL_CYCLE_TIME_MS);
        for (_, total, good, startup) in
            self.counts.iter().filter(|(at, ..)| window.start() <= *at && *at < window.end())
        {
            sums.total += total;
            sums.good += good;
            sums.ideal_total_ms += i128::from(*total) * ideal;
            sums.ideal_good_ms += i128::from(*good) * ideal;
            sums.startup_rejects += startup;
            sums.ideal_startup_reject_ms += i128::from(*startup) * ideal;
        }
        window_oee(window, schedule, &self.stops, &sums, now)
    }
}

/// What differs between the recount and the served period (`oee` of one period of `GET /api/v1/oee`).
pub fn differences(expected: &WindowOee, served: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let inputs = &served["inputs"];
    let pairs = [
        ("calendar_ms", u128::from(expected.inputs.calendar_ms)),
        ("planned_production_ms", u128::from(expected.inputs.planned_production_ms)),
        ("run_ms", u128::from(expected.inputs.run_ms)),
        ("total_count", u128::from(expected.inputs.total_count)),
        ("good_count", u128::from(expected.inputs.good_count)),
        ("ideal_good_ms", expected.inputs.ideal_good_ms),
    ];
    for (field, want) in pairs {
        let got = inputs[field].as_u64().map(u128::from);
        if got != Some(want) {
            found.push(format!("{field}: recounted {want}, served {got:?}"));
        }
    }
    let served_downtime: BTreeMap<String, u64> = served["downtime_ms"]
        .as_object()
        .map(|all| all.iter().filter_map(|(k, v)| Some((k.clone(), v.as_u64()?))).collect())
        .unwrap_or_default();
    if served_downtime != expected.downtime_ms {
        found.push(format!("downtime: recounted {:?}, served {served_downtime:?}", expected.downtime_ms));
    }
    for factor in ["utilization", "teep"] {
        let ratio = if factor == "teep" { expected.figures.teep } else { expected.figures.utilization };
        let want = ratio.map(|ratio| (ratio.numerator, ratio.denominator));
        let exact = |field: &str| served["figures"][factor][field].as_u64().map(u128::from);
        let got = exact("numerator").zip(exact("denominator"));
        if got != want {
            found.push(format!("{factor}: recounted {want:?}, served {got:?}"));
        }
    }
    let parts: Vec<(String, Option<i64>)> = served["loss_tree"]["parts"]
        .as_array()
        .map(|parts| parts.iter().map(|part| (part["part"].to_string(), part["ms"].as_i64())).collect())
        .unwrap_or_default();
    let recounted: Vec<(String, Option<i64>)> = expected
        .loss_tree()
        .parts_ms()
        .iter()
        .map(|(part, ms)| (serde_json::to_value(part).unwrap_or_default().to_string(), i64::try_from(*ms).ok()))
        .collect();
    if parts != recounted {
        found.push(format!("loss tree: recounted {recounted:?}, served {parts:?}"));
    }
    found
}
