//! One line's script: what happens on it over a span of plant time, decided up front from a seed, so
//! a run can be repeated and its expected figures recounted without asking the service.
//!
//! The line runs one job per shift occurrence; a PLC gateway reports its good and reject counters every
//! tick while it runs and its stops as machine states; downtime gets a reason (some stay unassigned,
//! small stops need none); now and then an Andon call is raised and resolved.

use chrono::{DateTime, Duration, Utc};
use domain::oee::ShiftOccurrence;
use domain::values::LossCategory;
use uuid::Uuid;

/// How often the gateway reports the counters.
pub const TICK: Duration = Duration::seconds(30);
/// Units per tick at full speed (ideal cycle time 1.0 s) and the usual speed of the line.
const IDEAL_PER_TICK: u64 = 30;

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    StartJob {
        job: Uuid,
    },
    CompleteJob {
        job: Uuid,
    },
    /// Units rejected while the line warms up after a job starts, booked by the operator with a
    /// start-up reject reason.
    StartupRejects {
        job: Uuid,
        units: u64,
    },
    /// Both counters' readings; the first of a job is its baseline.
    Counters {
        job: Uuid,
        good: u64,
        reject: u64,
        sequence: u64,
    },
    StopStarted {
        stop: Uuid,
        sequence: u64,
    },
    StopEnded {
        stop: Uuid,
        sequence: u64,
    },
    Reason {
        stop: Uuid,
        code: &'static str,
        loss: LossCategory,
    },
    RaiseCall {
        call: Uuid,
    },
    ResolveCall {
        call: Uuid,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub at: DateTime<Utc>,
    pub action: Action,
}

/// The reject reason the operator books warm-up rejects with (a start-up reject).
pub const WARM_UP: &str = "warm-up";

/// The reasons the simulator defines on each line: (code, loss category).
pub const REASONS: [(&str, LossCategory); 3] =
    [("jam", LossCategory::Unplanned), ("changeover", LossCategory::Setup), ("cleaning", LossCategory::Planned)];

/// A small deterministic generator (SplitMix64): the script must be repeatable from its seed.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// True with probability `per_mille` / 1000.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.next() % 1000 < per_mille
    }
    fn between(&mut self, low: i64, high: i64) -> i64 {
        low + i64::try_from(self.next() % u64::try_from(high - low + 1).unwrap_or(1)).unwrap_or(0)
    }
}

/// The steps of one line over the shift occurrences `shifts` (in order), within [`from`, `until`).
/// `seed` decides what happens; `run` goes into every record id, so runs never collide.
pub fn line_script(
    seed: u64,
    run: u64,
    shifts: &[ShiftOccurrence],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<Step> {
    let mut dice = Dice(seed);
    let mut steps = Vec::new();
    let (mut good_counter, mut reject_counter, mut sequence) = (0u64, 0u64, 0u64);
    for shift in shifts {
        let end = shift.interval.end().min(until);
        let mut now = shift.interval.start().max(from);
        if now + TICK >= end {
            continue;
        }
        let job = Uuid::from_u64_pair(run, dice.next());
        steps.push(Step { at: now, action: Action::StartJob { job } });
        sequence += 1;
        steps.push(Step {
            at: now,
            action: Action::Counters { job, good: good_counter, reject: reject_counter, sequence },
        });
        let units = u64::try_from(dice.between(1, 5)).unwrap_or(1);
        steps.push(Step { at: now + Duration::seconds(1), action: Action::StartupRejects { job, units } });
        // Every step of the job comes at least a second before its end, so before it completes.
        while now + TICK < end - Duration::seconds(1) {
            if dice.chance(25) {
                // A stop: mostly short, some long enough to be downtime (over the 2-minute threshold).
                let stop = Uuid::from_u64_pair(run, dice.next());
                let length =
                    Duration::seconds(if dice.chance(400) { dice.between(20, 110) } else { dice.between(180, 1500) });
                let ended = (now + length).min(end - Duration::seconds(1));
                sequence += 1;
                steps.push(Step { at: now, action: Action::StopStarted { stop, sequence } });
                sequence += 1;
                steps.push(Step { at: ended, action: Action::StopEnded { stop, sequence } });
                if ended - now >= Duration::minutes(2) && !dice.chance(200) {
                    let (code, loss) = REASONS[usize::try_from(dice.next() % 3).unwrap_or(0)];
                    steps.push(Step { at: ended, action: Action::Reason { stop, code, loss } });
                }
                now = ended;
                continue;
            }
            if dice.chance(4) {
                let call = Uuid::from_u64_pair(run, dice.next());
                steps.push(Step { at: now, action: Action::RaiseCall { call } });
                let resolved = (now + Duration::minutes(dice.between(3, 15))).min(end - Duration::seconds(1));
                steps.push(Step { at: resolved, action: Action::ResolveCall { call } });
            }
            now += TICK;
            let made = IDEAL_PER_TICK * u64::try_from(dice.between(80, 95)).unwrap_or(0) / 100;
            let rejects = u64::try_from(dice.between(0, 2)).unwrap_or(0).min(made);
            good_counter += made - rejects;
            reject_counter += rejects;
            sequence += 1;
            steps.push(Step {
                at: now,
                action: Action::Counters { job, good: good_counter, reject: reject_counter, sequence },
            });
        }
        steps.push(Step { at: end - Duration::milliseconds(500), action: Action::CompleteJob { job } });
    }
    steps.sort_by_key(|step| step.at);
    steps
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};
    use domain::oee::Interval;
    use domain::values::ShiftName;

    use super::*;

    /// Plant time starts wherever the run's clock is, so a job's last tick may land within a second of
    /// the shift's end: it must still come before the job completes.
    #[test]
    fn every_count_of_a_job_comes_before_it_completes_wherever_plant_time_starts() {
        let start = Utc.with_ymd_and_hms(2026, 11, 22, 6, 0, 0).single().unwrap();
        let interval = Interval::new(start, start + Duration::hours(8)).unwrap();
        let shift = ShiftOccurrence {
            shift: ShiftName::parse("early").unwrap(),
            date: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap_or_default(),
            interval,
            breaks: Vec::new(),
            crew: None,
        };
        for offset_ms in (0..30_000).step_by(50) {
            for seed in 0..3 {
                let from = start + Duration::milliseconds(offset_ms);
                let steps = line_script(seed, 1, std::slice::from_ref(&shift), from, interval.end());
                let completed = steps.iter().find(|step| matches!(step.action, Action::CompleteJob { .. }));
                let completed = completed.expect("no job completed").at;
                let late =
                    steps.iter().find(|step| matches!(step.action, Action::Counters { .. }) && step.at >= completed);
                assert_eq!(late, None, "offset {offset_ms} ms, seed {seed}: counts after completion at {completed}");
            }
        }
    }
}
