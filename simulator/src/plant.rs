//! The plant as the service sees it: the simulator's people and gateway, its lines configured, and each
//! scripted step sent as the request a tablet or a PLC gateway would send.

use anyhow::Context as _;
use chrono::{DateTime, NaiveTime, Utc};
use domain::line::{PlannedBreak, ShiftDefinition};
use domain::values::{Millis, ShiftName};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::client::{Caller, Credentials, answer};
use crate::script::{Action, REASONS, Step, WARM_UP};

pub const PRODUCT: &str = "SKU-1";
pub const IDEAL_CYCLE_TIME_MS: u64 = 1000;

pub struct Plant {
    pub leader: Caller,
    pub operator: Caller,
    pub operator_id: String,
    pub gateway: Caller,
    pub admin: Caller,
}

/// A weekly pattern: three eight-hour shifts on weekdays (the night from Monday to Friday), two
/// twelve-hour shifts on Saturday and Sunday (the weekend night ends on the next morning), each with a
/// 30-minute break in its middle; every hour of the week is scheduled, so any span plays shifts.
pub fn calendar() -> anyhow::Result<Vec<ShiftDefinition>> {
    use domain::line::{Day, Weekdays};
    let time = |text: &str| NaiveTime::parse_from_str(text, "%H:%M").context("shift time");
    let weekdays = [Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri];
    let weekend = [Day::Sat, Day::Sun];
    [
        ("early", "06:00", "14:00", "10:00", &weekdays[..]),
        ("late", "14:00", "22:00", "18:00", &weekdays[..]),
        ("night", "22:00", "06:00", "02:00", &weekdays[..]),
        ("weekend-day", "06:00", "18:00", "12:00", &weekend[..]),
        ("weekend-night", "18:00", "06:00", "00:00", &weekend[..]),
    ]
    .into_iter()
    .map(|(name, start, end, pause, days)| {
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

impl Plant {
    /// Signs the administrator in and creates this run's engineer, team leader, operator and gateway
    /// for `site` (names carry `tag`, so runs never collide).
    pub async fn create(
        http: &reqwest::Client,
        base: &str,
        admin: Credentials,
        site: &str,
        tag: &str,
    ) -> anyhow::Result<(Self, Caller)> {
        let admin = Caller::sign_in(http, base, admin).await.context("signing the administrator in")?;
        let grants = |role: &str| json!([{"role": role, "scope": {"kind": "site", "site": site}}]);
        let mut people = Vec::new();
        for role in ["engineer", "team_leader", "operator"] {
            let username = format!("{tag}-{role}").replace('_', "-");
            let temporary = format!("Temporary-{}!", Uuid::new_v4().simple());
            let body = json!({"username": username, "printed_name": format!("Simulated {role}"),
                              "grants": grants(role), "initial_password": temporary});
            let created = admin.post("/api/v1/users", &body).await.with_context(|| format!("creating {username}"))?;
            let password = format!("Own-{}-Pass!", Uuid::new_v4().simple());
            let change = json!({"username": username, "current_password": temporary, "new_password": password});
            answer(http.post(format!("{base}/api/v1/auth/password")).json(&change).send().await?).await?;
            let caller = Caller::sign_in(http, base, Credentials::Person { username, password }).await?;
            people.push((created["aggregate_id"].as_str().unwrap_or_default().to_owned(), caller));
        }
        let device_id = format!("{tag}-gateway");
        let body = json!({"device_id": device_id, "name": "Simulated gateway", "kind": "plc_gateway",
                          "scope": {"kind": "site", "site": site}});
        let enrolled = admin.post("/api/v1/devices", &body).await.context("enrolling the gateway")?;
        let secret = enrolled["secret"].as_str().context("no device secret")?.to_owned();
        let gateway = Caller::sign_in(http, base, Credentials::Device { device_id, secret }).await?;
        let mut people = people.into_iter();
        let mut next = || people.next().context("three people");
        let (_, engineer) = next()?;
        let (_, leader) = next()?;
        let (operator_id, operator) = next()?;
        Ok((Self { leader, operator, operator_id, gateway, admin }, engineer))
    }

    /// Registers `line` with the calendar, the product's ideal cycle time and the reasons, all in
    /// force from `since`.
    pub async fn configure_line(
        engineer: &Caller,
        line: &str,
        time_zone: &str,
        since: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        engineer.post("/api/v1/lines", &json!({"line": line, "name": line, "time_zone": time_zone})).await?;
        let at = |what: &str| format!("/api/v1/lines/{line}/{what}");
        let calendar = json!({"shifts": serde_json::to_value(calendar()?)?, "effective_from": since});
        engineer.post(&at("shift-calendar"), &calendar).await?;
        let cycle = json!({"product": PRODUCT, "ideal_cycle_time_ms": IDEAL_CYCLE_TIME_MS, "effective_from": since});
        engineer.post(&at("ideal-cycle-times"), &cycle).await?;
        for (code, category) in REASONS {
            engineer
                .post(&at("downtime-reasons"), &json!({"code": code, "label": code, "loss_category": category}))
                .await?;
        }
        let warm_up = json!({"code": WARM_UP, "label": "Warming up", "category": "startup"});
        engineer.post(&at("reject-reasons"), &warm_up).await?;
        Ok(())
    }

    /// Sends one step of `line`'s script as the person or gateway who would.
    pub async fn perform(&self, line: &str, step: &Step) -> anyhow::Result<()> {
        let at = step.at;
        match &step.action {
            Action::StartJob { job } => {
                let body = json!({"id": job, "line": line, "product": PRODUCT, "target_quantity": 100_000});
                self.leader.post("/api/v1/jobs", &body).await?;
                self.leader.post(&format!("/api/v1/jobs/{job}/assign"), &json!({"operator": self.operator_id})).await?;
                self.operator.post(&format!("/api/v1/jobs/{job}/accept"), &json!({})).await?;
                self.operator.post(&format!("/api/v1/jobs/{job}/start"), &json!({})).await?;
            }
            Action::StartupRejects { job, units } => {
                let body = json!({"good": 0, "reject": units, "reject_reason": WARM_UP});
                self.operator.post_at(&format!("/api/v1/jobs/{job}/production"), &body, at).await?;
            }
            Action::CompleteJob { job } => {
                self.operator.post(&format!("/api/v1/jobs/{job}/complete"), &json!({})).await?;
            }
            Action::Counters { job, good, reject, sequence } => {
                let reading = |counter: &str, value: u64| {
                    json!({"kind": "counter_reading", "job_id": job, "counter": counter, "count_kind": counter,
                           "width": "bits32", "sequence": sequence, "value": value, "source_timestamp": at,
                           "quality": "good"})
                };
                self.ingest(json!([reading("good", *good), reading("reject", *reject)])).await?;
            }
            Action::StopStarted { stop, sequence } | Action::StopEnded { stop, sequence } => {
                let state = if matches!(step.action, Action::StopStarted { .. }) { "stopped" } else { "running" };
                self.ingest(json!([{"kind": "machine_state", "stop_id": stop, "line": line, "state": state,
                                    "sequence": sequence, "source_timestamp": at, "quality": "good"}]))
                    .await?;
            }
            Action::Reason { stop, code, .. } => {
                self.operator.post(&format!("/api/v1/downtime/{stop}/reason"), &json!({"code": code})).await?;
            }
            Action::RaiseCall { call } => {
                let body = json!({"id": call, "line": line, "station": "S1", "call_type": "maintenance",
                                  "priority": "normal", "description": "Simulated call"});
                self.operator.post("/api/v1/andon-calls", &body).await?;
            }
            Action::ResolveCall { call } => {
                self.leader.post(&format!("/api/v1/andon-calls/{call}/acknowledge"), &json!({})).await?;
                let resolution = json!({"resolution": "Fixed", "root_cause": "Simulated cause"});
                self.leader.post(&format!("/api/v1/andon-calls/{call}/resolve"), &resolution).await?;
            }
        }
        Ok(())
    }

    /// A gateway batch; an item the service rejects is an error of the simulation.
    async fn ingest(&self, items: Value) -> anyhow::Result<()> {
        let count = items.as_array().map_or(0, Vec::len);
        let answer = self.gateway.post("/api/v1/ingest/plc", &json!({"items": items})).await?;
        anyhow::ensure!(
            answer["accepted"].as_u64() == u64::try_from(count).ok(),
            "the gateway's batch was not accepted: {answer}"
        );
        Ok(())
    }
}
