//! Every endpoint of the service with the roles that may call it (the matrix of Part 11 AC-03), a valid
//! body for it, and a fixture of records on one line to call it on.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::support::{LINE, OTHER_LINE, Response, TestApp, on_line, on_site};

pub const OPERATOR: &str = "operator";
pub const TEAM_LEADER: &str = "team_leader";
pub const MAINTENANCE: &str = "maintenance";
pub const QUALITY: &str = "quality";
pub const ENGINEER: &str = "engineer";
pub const AUDITOR: &str = "auditor";
pub const ADMIN: &str = "admin";
pub const DEVICE: &str = "device";
/// An enrolled display (a TV) for the site: it reads boards and nothing else.
pub const DISPLAY: &str = "display";
pub const EVERY_ROLE: [&str; 9] =
    [OPERATOR, TEAM_LEADER, MAINTENANCE, QUALITY, ENGINEER, AUDITOR, ADMIN, DEVICE, DISPLAY];
/// Who reads the audit trail (within their scopes).
pub const TRAIL: &[&str] = &[TEAM_LEADER, QUALITY, ENGINEER, AUDITOR, ADMIN];
/// Who audits the whole database's ledger.
pub const LEDGER: &[&str] = &[QUALITY, AUDITOR, ADMIN];
/// Who may sign `reviewed` (and `verified`, `approved`).
pub const REVIEWERS: &[&str] = &[TEAM_LEADER, QUALITY];
/// Who may sign at all: every role that owns records.
pub const SIGNERS: &[&str] = &[OPERATOR, TEAM_LEADER, MAINTENANCE, QUALITY, ENGINEER];
pub const PEOPLE: &[&str] = &[OPERATOR, TEAM_LEADER, MAINTENANCE, QUALITY, ENGINEER, AUDITOR, ADMIN];
/// Who reads the boards: every person, and a display.
pub const BOARDS: &[&str] = &[OPERATOR, TEAM_LEADER, MAINTENANCE, QUALITY, ENGINEER, AUDITOR, ADMIN, DISPLAY];

#[derive(Debug, Clone, Copy)]
pub enum Access {
    /// No token needed (sign-in, health, metrics, docs).
    Public,
    /// Any signed-in principal (sign-out); checked separately, since calling it ends the session.
    AnySession,
    Roles(&'static [&'static str]),
}

pub struct Endpoint {
    pub method: &'static str,
    /// As the OpenAPI document names it.
    pub path: &'static str,
    pub access: Access,
    pub body: fn(&Fixture) -> Value,
}

pub fn none(_: &Fixture) -> Value {
    json!({})
}

/// The records every role acts on, all on `LINE`.
pub struct Fixture {
    pub job: String,
    pub stop: String,
    pub call: String,
    pub checklist: String,
    pub user: String,
    pub operator: String,
}

pub fn endpoints() -> Vec<Endpoint> {
    use Access::{AnySession, Public, Roles};
    let e = |method, path, access, body| Endpoint { method, path, access, body };
    vec![
        e("GET", "/health/live", Public, none),
        e("GET", "/health/ready", Public, none),
        e("GET", "/metrics", Public, none),
        e("POST", "/api/v1/bootstrap", Public, none),
        e("POST", "/api/v1/auth/login", Public, none),
        e("POST", "/api/v1/auth/device", Public, none),
        e("POST", "/api/v1/auth/refresh", Public, none),
        e("POST", "/api/v1/auth/password", Public, none),
        e("POST", "/api/v1/auth/logout", AnySession, none),
        e("GET", "/api/v1/auth/me", AnySession, none),
        e("POST", "/api/v1/users", Roles(&[ADMIN]), |_| {
            json!({"username": format!("u{}", uuid::Uuid::new_v4().simple()), "printed_name": "New Person",
                   "grants": on_site("auditor"), "initial_password": "Temporary-Pass-2026!"})
        }),
        e("GET", "/api/v1/users/{user_id}", Roles(&[AUDITOR, ADMIN]), none),
        e(
            "POST",
            "/api/v1/users/{user_id}/roles/grant",
            Roles(&[ADMIN]),
            |_| json!({"role": "quality", "scope": {"kind": "site", "site": "plant-1"}, "reason": "cover"}),
        ),
        e(
            "POST",
            "/api/v1/users/{user_id}/roles/revoke",
            Roles(&[ADMIN]),
            |_| json!({"role": "quality", "scope": {"kind": "site", "site": "plant-1"}, "reason": "cover ended"}),
        ),
        e(
            "POST",
            "/api/v1/users/{user_id}/printed-name",
            Roles(&[ADMIN]),
            |_| json!({"printed_name": format!("Renamed {}", uuid::Uuid::new_v4().simple()), "reason": "marriage"}),
        ),
        e("POST", "/api/v1/users/{user_id}/unlock", Roles(&[ADMIN]), |_| json!({"reason": "confirmed"})),
        e(
            "POST",
            "/api/v1/users/{user_id}/password-reset",
            Roles(&[ADMIN]),
            |_| json!({"temporary_password": "Reset-Pass-2026!", "reason": "forgotten"}),
        ),
        e("POST", "/api/v1/users/{user_id}/sessions/revoke", Roles(&[ADMIN]), |_| json!({"reason": "badge lost"})),
        e("POST", "/api/v1/users/{user_id}/deactivate", Roles(&[ADMIN]), |_| json!({"reason": "left"})),
        e("GET", "/api/v1/security/alerts", Roles(&[ADMIN]), none),
        e("POST", "/api/v1/devices", Roles(&[ADMIN]), |_| {
            json!({"device_id": format!("d{}", uuid::Uuid::new_v4().simple()), "name": "Tablet", "kind": "tablet",
                   "scope": {"kind": "line", "line": LINE}})
        }),
        e("GET", "/api/v1/devices/{device_id}", Roles(&[AUDITOR, ADMIN]), none),
        e("POST", "/api/v1/devices/{device_id}/revoke", Roles(&[ADMIN]), |_| json!({"reason": "replaced"})),
        e("POST", "/api/v1/lines", Roles(&[ENGINEER]), |_| {
            json!({"line": format!("plant-1/packing/N{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
                   "name": "New", "time_zone": "UTC"})
        }),
        e("GET", "/api/v1/lines/{site}/{area}/{line}", Roles(PEOPLE), none),
        e("GET", "/api/v1/lines/{site}/{area}/{line}/status", Roles(BOARDS), none),
        e("GET", "/api/v1/live/lines/{site}/{area}/{line}", Roles(BOARDS), none),
        e("GET", "/api/v1/live/areas/{site}/{area}", Roles(BOARDS), none),
        // The operator's grant is for one line, not the site.
        e(
            "GET",
            "/api/v1/live/sites/{site}",
            Roles(&[TEAM_LEADER, MAINTENANCE, QUALITY, ENGINEER, AUDITOR, ADMIN, DISPLAY]),
            none,
        ),
        e(
            "POST",
            "/api/v1/lines/{site}/{area}/{line}/equipment",
            Roles(&[ENGINEER]),
            |_| json!({"equipment": format!("e{}", uuid::Uuid::new_v4().simple()), "name": "Capper"}),
        ),
        e(
            "POST",
            "/api/v1/lines/{site}/{area}/{line}/ideal-cycle-times",
            Roles(&[ENGINEER]),
            |_| json!({"product": "SKU-9", "ideal_cycle_time_ms": 900, "effective_from": "2026-02-01T00:00:00Z"}),
        ),
        e("POST", "/api/v1/lines/{site}/{area}/{line}/shift-calendar", Roles(&[ENGINEER]), |_| {
            json!({"shifts": [{"name": "early", "start": "06:00:00", "end": "14:00:00", "breaks": []}],
                   "effective_from": "2026-02-01T00:00:00Z"})
        }),
        e(
            "POST",
            "/api/v1/lines/{site}/{area}/{line}/non-production-days",
            Roles(&[ENGINEER]),
            |_| json!({"days": [{"date": "2026-12-25", "name": "Christmas Day"}], "effective_from": "2026-02-01T00:00:00Z"}),
        ),
        e(
            "POST",
            "/api/v1/lines/{site}/{area}/{line}/small-stop-threshold",
            Roles(&[ENGINEER]),
            |_| json!({"threshold_ms": 120000, "effective_from": "2026-02-01T00:00:00Z"}),
        ),
        e("POST", "/api/v1/lines/{site}/{area}/{line}/escalation-ladders", Roles(&[ENGINEER]), |_| {
            json!({"call_type": "safety", "tiers": [{"level": 2, "unacknowledged_after_ms": 60000}],
                   "effective_from": "2026-02-01T00:00:00Z", "reason": "safety calls go up sooner"})
        }),
        e("POST", "/api/v1/lines/{site}/{area}/{line}/downtime-reasons", Roles(&[ENGINEER]), |_| {
            json!({"code": format!("r{}", &uuid::Uuid::new_v4().simple().to_string()[..8]), "label": "Other",
                   "loss_category": "unplanned"})
        }),
        e("POST", "/api/v1/lines/{site}/{area}/{line}/crew-rotation", Roles(&[ENGINEER]), |_| {
            json!({"rotation": {"anchor": "2026-01-05", "days": [{"day": "A"}, {"day": "B"}]},
                   "effective_from": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339(),
                   "reason": "new crews"})
        }),
        e("POST", "/api/v1/lines/{site}/{area}/{line}/reject-reasons", Roles(&[ENGINEER]), |_| {
            json!({"code": format!("r{}", &uuid::Uuid::new_v4().simple().to_string()[..8]), "label": "Other",
                   "category": "production"})
        }),
        e("POST", "/api/v1/checklist-templates/{template_id}", Roles(&[ENGINEER, QUALITY]), |_| template()),
        e(
            "POST",
            "/api/v1/checklists",
            Roles(&[OPERATOR, TEAM_LEADER, QUALITY]),
            |_| json!({"template_id": "clearance"}),
        ),
        e(
            "POST",
            "/api/v1/checklists/{checklist_id}/answers",
            Roles(&[OPERATOR, TEAM_LEADER, QUALITY]),
            |_| json!({"item": "guard", "answer": {"kind": "check", "value": true}, "reason": "rechecked"}),
        ),
        e(
            "POST",
            "/api/v1/jobs",
            Roles(&[TEAM_LEADER]),
            |_| json!({"line": LINE, "product": "SKU-1", "target_quantity": 5}),
        ),
        e(
            "POST",
            "/api/v1/jobs/{job_id}/assign",
            Roles(&[TEAM_LEADER]),
            |f| json!({"operator": f.operator, "reason": "swap"}),
        ),
        e("POST", "/api/v1/jobs/{job_id}/accept", Roles(&[OPERATOR, TEAM_LEADER]), none),
        e("POST", "/api/v1/jobs/{job_id}/start", Roles(&[OPERATOR, TEAM_LEADER]), none),
        e("POST", "/api/v1/jobs/{job_id}/pause", Roles(&[OPERATOR, TEAM_LEADER]), none),
        e("POST", "/api/v1/jobs/{job_id}/resume", Roles(&[OPERATOR, TEAM_LEADER]), none),
        e(
            "POST",
            "/api/v1/jobs/{job_id}/production",
            Roles(&[OPERATOR, TEAM_LEADER]),
            |_| json!({"good": 1, "reject": 0}),
        ),
        e("POST", "/api/v1/jobs/{job_id}/counter-readings", Roles(&[OPERATOR, TEAM_LEADER, DEVICE]), |_| {
            json!({"counter": "c9", "kind": "good", "width": "bits16", "sequence": 1, "value": 5,
                   "source_timestamp": "2026-11-22T06:00:00Z"})
        }),
        e(
            "POST",
            "/api/v1/jobs/{job_id}/corrections",
            Roles(&[TEAM_LEADER, QUALITY]),
            |_| json!({"good_delta": 1, "reject_delta": 0, "reason": "recount"}),
        ),
        e("POST", "/api/v1/jobs/{job_id}/complete", Roles(&[OPERATOR, TEAM_LEADER]), none),
        e("POST", "/api/v1/jobs/{job_id}/cancel", Roles(&[TEAM_LEADER]), |_| json!({"reason": "order withdrawn"})),
        e(
            "POST",
            "/api/v1/downtime",
            Roles(&[OPERATOR, TEAM_LEADER, MAINTENANCE, DEVICE]),
            |_| json!({"line": LINE, "started_at": "2026-11-22T05:00:00Z"}),
        ),
        e(
            "POST",
            "/api/v1/downtime/{downtime_id}/reason",
            Roles(&[OPERATOR, TEAM_LEADER, MAINTENANCE]),
            |_| json!({"code": "jam", "reason_for_change": "second look"}),
        ),
        e(
            "POST",
            "/api/v1/downtime/{downtime_id}/end",
            Roles(&[OPERATOR, TEAM_LEADER, MAINTENANCE, DEVICE]),
            |_| json!({"ended_at": "2026-11-22T05:10:00Z"}),
        ),
        e(
            "POST",
            "/api/v1/downtime/{downtime_id}/void",
            Roles(&[TEAM_LEADER, QUALITY]),
            |_| json!({"reason": "recorded in error"}),
        ),
        e(
            "POST",
            "/api/v1/andon-calls",
            Roles(&[OPERATOR, TEAM_LEADER, MAINTENANCE, QUALITY]),
            |_| json!({"line": LINE, "station": "S1", "call_type": "material", "priority": "low", "description": "Labels low"}),
        ),
        e("POST", "/api/v1/andon-calls/{call_id}/acknowledge", Roles(&[TEAM_LEADER, MAINTENANCE, QUALITY]), none),
        e("POST", "/api/v1/andon-calls/{call_id}/escalate", Roles(&[TEAM_LEADER]), |_| json!({"level": 2})),
        e(
            "POST",
            "/api/v1/andon-calls/{call_id}/resolve",
            Roles(&[TEAM_LEADER, MAINTENANCE, QUALITY]),
            |_| json!({"resolution": "Refilled", "root_cause": "Late delivery"}),
        ),
        e(
            "POST",
            "/api/v1/andon-calls/{call_id}/cancel",
            Roles(&[OPERATOR, TEAM_LEADER]),
            |_| json!({"reason": "raised by mistake"}),
        ),
        e("POST", "/api/v1/ingest/plc", Roles(&[DEVICE]), |f| {
            json!({"items": [{"kind": "counter_reading", "job_id": f.job, "counter": "c1", "count_kind": "good",
                              "width": "bits32", "sequence": 1, "value": 1, "source_timestamp": "2026-11-22T06:00:00Z",
                              "quality": "good"}]})
        }),
        e("GET", "/api/v1/history", Roles(PEOPLE), none),
        e("GET", "/api/v1/jobs", Roles(PEOPLE), none),
        e("GET", "/api/v1/jobs/{job_id}", Roles(PEOPLE), none),
        e("GET", "/api/v1/downtime", Roles(PEOPLE), none),
        e("GET", "/api/v1/andon-calls", Roles(BOARDS), none),
        e("GET", "/api/v1/andon-calls/response-times", Roles(PEOPLE), none),
        e("GET", "/api/v1/andon-calls/history", Roles(PEOPLE), none),
        e("GET", "/api/v1/downtime/pareto", Roles(PEOPLE), none),
        e("GET", "/api/v1/downtime/reliability", Roles(PEOPLE), none),
        e("GET", "/api/v1/oee", Roles(PEOPLE), none),
        e("GET", "/api/v1/oee/roll-up", Roles(PEOPLE), none),
        e("GET", "/api/v1/oee/changeovers", Roles(PEOPLE), none),
        e("GET", "/api/v1/lines/{site}/{area}/{line}/shifts/{date}/{shift}/hour-by-hour", Roles(BOARDS), none),
        e("GET", "/api/v1/lines/{site}/{area}/{line}/shifts/{date}/{shift}/report", Roles(PEOPLE), none),
        e("GET", "/api/v1/lines/{site}/{area}/{line}/shifts/{date}/{shift}/report/print", Roles(PEOPLE), none),
        e(
            "POST",
            "/api/v1/lines/{site}/{area}/{line}/shifts/{date}/{shift}/handover-notes",
            Roles(&[TEAM_LEADER]),
            |_| json!({"note": "All clear."}),
        ),
        e("POST", "/api/v1/lines/{site}/{area}/{line}/shifts/{date}/{shift}/report/prepare", Roles(REVIEWERS), none),
        e("GET", "/api/v1/projections", Roles(&[ADMIN]), none),
        e("POST", "/api/v1/projections/{name}/rebuild", Roles(&[ADMIN]), |_| json!({"reason": "checking"})),
        e("POST", "/api/v1/projections/{name}/rebuild/cancel", Roles(&[ADMIN]), |_| json!({"reason": "not now"})),
        e("POST", "/api/v1/projections/{name}/drop-old", Roles(&[ADMIN]), |_| json!({"reason": "space"})),
        e("GET", "/api/v1/state", Roles(PEOPLE), none),
        e("GET", "/api/v1/audit-trail", Roles(TRAIL), none),
        e("GET", "/api/v1/audit-trail/export", Roles(TRAIL), none),
        e("GET", "/api/v1/audit-trail/report", Roles(TRAIL), none),
        e("GET", "/api/v1/ledger/verifier-key", Roles(LEDGER), none),
        e("GET", "/api/v1/ledger/checkpoints", Roles(LEDGER), none),
        e("GET", "/api/v1/ledger/checkpoints/latest", Roles(LEDGER), none),
        e("GET", "/api/v1/ledger/proofs/{ledger_number}", Roles(LEDGER), none),
        e("GET", "/api/v1/ledger/consistency", Roles(LEDGER), none),
        e("POST", "/api/v1/ledger/verify", Roles(LEDGER), none),
        // Signing as `reviewed`: the roles that may review. Without a username the first signature of a
        // session stops at `username_required` (401), after the role check and before any credential.
        e("GET", "/api/v1/signatures/intent", Roles(REVIEWERS), none),
        e(
            "POST",
            "/api/v1/signatures",
            Roles(REVIEWERS),
            |f| json!({"record_type": "job", "record_id": f.job, "version": 1, "meaning": "reviewed", "password": "x"}),
        ),
        e(
            "POST",
            "/api/v1/signatures/revoke",
            Roles(SIGNERS),
            |f| json!({"record_type": "job", "record_id": f.job, "signature_id": uuid::Uuid::nil(), "reason": "in error"}),
        ),
        e("GET", "/api/v1/record-signatures", Roles(PEOPLE), none),
    ]
}

fn template() -> Value {
    json!({"line": LINE, "name": "Line clearance", "reason": "revised",
           "items": [{"id": "guard", "prompt": "Guard closed", "kind": {"kind": "check"}, "mandatory": true}]})
}

/// The concrete path of an endpoint on the fixture's records.
pub fn concrete(endpoint: &Endpoint, fixture: &Fixture) -> String {
    let path = endpoint
        .path
        .replace("{user_id}", &fixture.user)
        .replace("{device_id}", "target-device")
        .replace("{site}/{area}/{line}", LINE)
        .replace("{date}/{shift}", "2026-11-22/day")
        .replace("{site}/{area}", "plant-1/packing")
        .replace("{site}", "plant-1")
        .replace("{template_id}", "clearance")
        .replace("{checklist_id}", &fixture.checklist)
        .replace("{job_id}", &fixture.job)
        .replace("{downtime_id}", &fixture.stop)
        .replace("{call_id}", &fixture.call)
        .replace("{ledger_number}", "1")
        .replace("{name}", "oee");
    match (endpoint.method, endpoint.path) {
        ("GET", "/api/v1/history") => format!("{path}?record_type=job&id={}", fixture.job),
        ("GET", "/api/v1/state") => format!("{path}?record_type=job&id={}&sequence=1", fixture.job),
        (
            "GET",
            "/api/v1/jobs"
            | "/api/v1/downtime"
            | "/api/v1/downtime/reliability"
            | "/api/v1/andon-calls"
            | "/api/v1/andon-calls/response-times"
            | "/api/v1/andon-calls/history",
        ) => {
            format!("{path}?line={LINE}")
        }
        ("GET", "/api/v1/downtime/pareto") => format!("{path}?line={LINE}&by=reason"),
        ("GET", "/api/v1/oee") => format!("{path}?line={LINE}&granularity=shift"),
        ("GET", "/api/v1/oee/roll-up") => format!("{path}?site=plant-1&area=packing"),
        ("GET", "/api/v1/oee/changeovers") => format!("{path}?line={LINE}"),
        ("GET", "/api/v1/ledger/consistency") => format!("{path}?old=1&new=1"),
        ("GET", "/api/v1/audit-trail/export") => format!("{path}?format=ndjson"),
        ("GET", "/api/v1/audit-trail/report") => format!("{path}?record_type=job&record_id={}", fixture.job),
        ("GET", "/api/v1/signatures/intent") => {
            format!("{path}?record_type=job&record_id={}&meaning=reviewed", fixture.job)
        }
        ("GET", "/api/v1/record-signatures") => format!("{path}?record_type=job&id={}", fixture.job),
        _ => path,
    }
}

async fn id_of(response: crate::support::Response) -> String {
    response.body["aggregate_id"].as_str().unwrap_or_else(|| panic!("no id in {}", response.body)).to_owned()
}

/// Signs in one principal per role (people site-wide, the operator on `LINE`), and creates the records.
pub async fn setup(app: &TestApp) -> (BTreeMap<&'static str, String>, Fixture, String) {
    let admin = app.bootstrap_admin().await;
    let mut tokens = BTreeMap::new();
    let mut operator_id = String::new();
    for role in [OPERATOR, TEAM_LEADER, MAINTENANCE, QUALITY, ENGINEER, AUDITOR] {
        let grants = if role == OPERATOR { on_line(role, LINE) } else { on_site(role) };
        let (id, token) = app.person(&admin, &role.replace('_', "-"), grants).await;
        if role == OPERATOR {
            operator_id = id;
        }
        tokens.insert(role, token);
    }
    let (_, gateway) = app.gateway(&admin, "gw-L3", json!({"kind": "line", "line": LINE})).await;
    tokens.insert(DEVICE, gateway);
    let (_, display) =
        app.device(&admin, ("tv-hall", "TV hall"), "display", json!({"kind": "site", "site": "plant-1"})).await;
    tokens.insert(DISPLAY, display);
    let (_, outsider) = app.person(&admin, "outsider", on_line(OPERATOR, OTHER_LINE)).await;
    let enrol = json!({"device_id": "target-device", "name": "Target", "kind": "tablet", "scope": {"kind": "line", "line": LINE}});
    app.post(Some(&admin), "/api/v1/devices", &enrol).await.expect(201);
    let target = json!({"username": "target", "printed_name": "Target Person", "grants": on_site(AUDITOR),
                        "initial_password": "Temporary-Pass-2026!"});
    let user = id_of(app.post(Some(&admin), "/api/v1/users", &target).await.expect(201)).await;
    tokens.insert(ADMIN, admin);

    let engineer = &tokens[ENGINEER];
    app.post(Some(engineer), "/api/v1/lines", &json!({"line": LINE, "name": "L3", "time_zone": "UTC"}))
        .await
        .expect(201);
    let reason = json!({"code": "jam", "label": "Jam", "loss_category": "unplanned"});
    app.post(Some(engineer), &format!("/api/v1/lines/{LINE}/downtime-reasons"), &reason).await.expect(200);
    let day = json!({"shifts": [{"name": "day", "start": "06:00:00", "end": "14:00:00", "breaks": []}],
                     "effective_from": "2026-01-01T00:00:00Z"});
    app.post(Some(engineer), &format!("/api/v1/lines/{LINE}/shift-calendar"), &day).await.expect(200);
    let first_template = json!({"line": LINE, "name": "Line clearance",
        "items": [{"id": "guard", "prompt": "Guard closed", "kind": {"kind": "check"}, "mandatory": true}]});
    app.post(Some(engineer), "/api/v1/checklist-templates/clearance", &first_template).await.expect(200);
    let leader = &tokens[TEAM_LEADER];
    let job = json!({"line": LINE, "product": "SKU-1", "target_quantity": 5});
    let job = id_of(app.post(Some(leader), "/api/v1/jobs", &job).await.expect(201)).await;
    let stop = json!({"line": LINE, "started_at": "2026-11-22T04:00:00Z"});
    let stop = id_of(app.post(Some(leader), "/api/v1/downtime", &stop).await.expect(201)).await;
    let call =
        json!({"line": LINE, "station": "S2", "call_type": "quality", "priority": "high", "description": "Seal"});
    let call = id_of(app.post(Some(leader), "/api/v1/andon-calls", &call).await.expect(201)).await;
    let checklist = json!({"template_id": "clearance"});
    let checklist = id_of(app.post(Some(leader), "/api/v1/checklists", &checklist).await.expect(201)).await;
    (tokens, Fixture { job, stop, call, checklist, user, operator: operator_id }, outsider)
}

pub async fn call(app: &TestApp, endpoint: &Endpoint, fixture: &Fixture, token: Option<&str>) -> Response {
    let url = app.url(&concrete(endpoint, fixture));
    let mut request = match endpoint.method {
        "GET" => app.client.get(url),
        _ => app.client.post(url).json(&(endpoint.body)(fixture)),
    };
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if endpoint.path.starts_with("/api/v1/live/") {
        // An event stream never ends: its status is the answer; the error body, if any, is short.
        let response = request.send().await.expect("request failed");
        let (status, headers) = (response.status().as_u16(), response.headers().clone());
        let body = if status == 200 { Value::Null } else { response.json().await.unwrap_or(Value::Null) };
        return Response { status, body, headers };
    }
    app.send(request).await
}
