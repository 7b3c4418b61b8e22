//! A record's audit trail as a printable report (Part 11 AT-11, AT-12; docs/part11.md): the record's
//! summary, every entry with who, when, from where, why and each changed field's old and new value, and
//! "changed since original entry" marks on corrections, and the record's signatures as they are
//! manifested (printed name, time, meaning) with what each is worth now. Rendered from `templates/trail_report.html`,
//! which carries its own print stylesheet.

use askama::Template;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use crate::views::signatures::{SignatureView, StatusView};
use crate::views::trail::TrailEntry;

#[derive(Debug, Template)]
#[template(path = "trail_report.html")]
pub struct TrailReport {
    pub record_type: String,
    pub record_id: String,
    pub line: String,
    pub version: i64,
    pub created: String,
    pub last_changed: String,
    pub changed_since_entry: bool,
    pub corrections: usize,
    pub generated_at: String,
    pub generated_by: String,
    pub up_to: i64,
    pub entries: Vec<ReportEntry>,
    pub signatures: Vec<ReportSignature>,
}

/// A signature as the report prints it (Part 11 11.50, ES-02).
#[derive(Debug)]
pub struct ReportSignature {
    pub sequence: u64,
    pub printed_name: String,
    pub role: String,
    pub signed_at: String,
    pub signed_local: String,
    pub meaning: String,
    pub statement: &'static str,
    pub version: u64,
    pub status: String,
}

/// What a signature is worth now, as a printout says it.
pub fn status_text(status: &StatusView) -> String {
    match status {
        StatusView::Standing => "standing".to_owned(),
        StatusView::RecordChanged { first_change } => {
            format!("the record changed after it, first at version {first_change}")
        }
        StatusView::Revoked { reason, revoked_at } => format!("revoked {}: {reason}", utc(*revoked_at)),
        StatusView::Broken { why } => format!("DOES NOT VERIFY: {why}"),
    }
}

impl From<SignatureView> for ReportSignature {
    fn from(view: SignatureView) -> Self {
        let status = status_text(&view.status);
        Self {
            sequence: view.sequence,
            printed_name: view.printed_name,
            role: serde_json::to_value(view.role).map(|role| shown(&role)).unwrap_or_default(),
            signed_at: utc(view.signed_at),
            signed_local: view.signed_local,
            meaning: view.meaning.to_string(),
            statement: view.statement,
            version: view.version,
            status,
        }
    }
}

#[derive(Debug)]
pub struct ReportEntry {
    pub sequence: i64,
    pub action: String,
    pub recorded_at: String,
    pub recorded_local: String,
    pub actor: String,
    pub source: String,
    pub reason: String,
    pub changes: Vec<ReportChange>,
    /// A correction of something recorded before.
    pub corrects: bool,
    pub ledger_number: String,
    pub stream_hash: String,
}

#[derive(Debug)]
pub struct ReportChange {
    pub field: String,
    pub old: String,
    pub new: String,
}

const NONE: &str = "—";

fn shown(value: &Value) -> String {
    match value {
        Value::Null => NONE.to_owned(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn utc(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

impl TrailReport {
    /// The report of one record's `entries` (all of them, in order), up to log position `up_to`, and its
    /// signatures.
    pub fn new(
        entries: Vec<TrailEntry>,
        signatures: Vec<SignatureView>,
        generated_by: String,
        generated_at: DateTime<Utc>,
        up_to: i64,
    ) -> Self {
        let first = entries.first();
        let last = entries.last();
        let attributed = |entry: &TrailEntry| {
            let who = entry.actor.name.clone().unwrap_or_else(|| NONE.to_owned());
            format!("{} by {who}", utc(entry.recorded_at))
        };
        let created = first.map_or_else(|| NONE.to_owned(), attributed);
        let last_changed = last.map_or_else(|| NONE.to_owned(), attributed);
        let record_type = first.map(|entry| entry.record_type.clone()).unwrap_or_default();
        let record_id = first.map(|entry| entry.record_id.clone()).unwrap_or_default();
        let line = entries.iter().find_map(|entry| entry.line.clone()).unwrap_or_else(|| NONE.to_owned());
        let version = last.map_or(0, |entry| entry.sequence);
        let entries: Vec<ReportEntry> = entries.into_iter().map(ReportEntry::from).collect();
        let corrections = entries.iter().filter(|entry| entry.corrects).count();
        Self {
            record_type,
            record_id,
            line,
            version,
            created,
            last_changed,
            changed_since_entry: corrections > 0,
            corrections,
            generated_at: utc(generated_at),
            generated_by,
            up_to,
            entries,
            signatures: signatures.into_iter().map(ReportSignature::from).collect(),
        }
    }
}

impl From<TrailEntry> for ReportEntry {
    fn from(entry: TrailEntry) -> Self {
        let actor = match (&entry.actor.name, &entry.actor.role) {
            (Some(name), Some(role)) => format!("{name} ({role})"),
            (Some(name), None) => name.clone(),
            _ => NONE.to_owned(),
        };
        let source = match (&entry.device_id, entry.source_timestamp) {
            (Some(device), Some(at)) => format!("{device}, source time {}", utc(at)),
            (Some(device), None) => device.clone(),
            (None, Some(at)) => format!("source time {}", utc(at)),
            (None, None) => NONE.to_owned(),
        };
        Self {
            sequence: entry.sequence,
            corrects: domain::aggregate::CORRECTIONS.contains(&entry.action.as_str()),
            recorded_at: utc(entry.recorded_at),
            recorded_local: entry.recorded_local,
            action: entry.action,
            actor,
            source,
            reason: entry.reason.unwrap_or_else(|| NONE.to_owned()),
            changes: entry
                .changes
                .into_iter()
                .map(|change| ReportChange { field: change.field, old: shown(&change.old), new: shown(&change.new) })
                .collect(),
            ledger_number: entry.ledger_number.map_or_else(|| "not sealed yet".to_owned(), |number| number.to_string()),
            stream_hash: entry.stream_hash,
        }
    }
}

#[cfg(test)]
mod tests {
    //! Golden file: the report of a sample stop, byte for byte. `UPDATE_GOLDEN=1` rewrites the file
    //! after a deliberate change of the report; review the diff.

    use serde_json::json;
    use uuid::Uuid;

    use super::*;
    use crate::views::trail::{ActorView, ChangeView};

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).map(|at| at.to_utc()).unwrap_or_default()
    }

    fn entry(
        sequence: i64,
        action: &str,
        when: &str,
        who: (&str, &str),
        reason: Option<&str>,
        changes: Vec<ChangeView>,
    ) -> TrailEntry {
        let recorded_at = at(when);
        TrailEntry {
            position: 100 + sequence,
            ledger_number: Some(40 + sequence),
            event_id: Uuid::from_u128(u128::try_from(sequence).unwrap_or_default()),
            recorded_at,
            recorded_local: crate::views::trail::local(recorded_at, Some("Europe/Berlin")),
            record_type: "downtime".to_owned(),
            record_id: "stop-7".to_owned(),
            sequence,
            action: action.to_owned(),
            line: Some("plant-1/packing/L3".to_owned()),
            actor: ActorView {
                user_id: Some(Uuid::from_u128(9)),
                name: Some(who.0.to_owned()),
                role: Some(who.1.to_owned()),
            },
            device_id: (sequence == 1).then(|| "tablet-3".to_owned()),
            source_timestamp: (sequence == 1).then(|| at("2026-10-25T00:29:58Z")),
            reason: reason.map(str::to_owned),
            changes,
            stream_hash: format!("{sequence:064x}"),
        }
    }

    fn change(field: &str, old: serde_json::Value, new: serde_json::Value) -> ChangeView {
        ChangeView { field: field.to_owned(), old, new }
    }

    #[test]
    fn at_11_at_12_at_08_the_report_of_a_sample_stop_is_the_golden_file_with_its_corrections_marked() {
        let olga = ("Olga Operator", "operator");
        let theo = ("Theo <Team> Leader", "team_leader");
        let entries = vec![
            entry(
                1,
                "DowntimeStarted",
                "2026-10-25T00:30:00Z",
                olga,
                None,
                vec![
                    change(
                        "interval",
                        json!(null),
                        json!({"started_at": "2026-10-25T00:30:00Z", "small_stop_threshold": 120000, "ended": null}),
                    ),
                    change("line", json!(null), json!("plant-1/packing/L3")),
                ],
            ),
            entry(
                2,
                "DowntimeReasonAssigned",
                "2026-10-25T00:40:00Z",
                olga,
                None,
                vec![change("reason", json!(null), json!({"code": "jam", "loss_category": "unplanned"}))],
            ),
            entry(
                3,
                "DowntimeReasonChanged",
                "2026-10-25T01:40:00Z",
                theo,
                Some("the filler was starved, not jammed"),
                vec![change("reason.code", json!("jam"), json!("starved"))],
            ),
        ];
        let signed_at = at("2026-10-25T01:40:00Z");
        let signature = SignatureView {
            signature_id: Uuid::from_u128(77),
            sequence: 4,
            meaning: domain::signature::Meaning::Authored,
            statement: domain::signature::Meaning::Authored.statement(),
            signer: Uuid::from_u128(9),
            printed_name: "Theo <Team> Leader".to_owned(),
            role: domain::actor::Role::TeamLeader,
            signed_at,
            signed_local: crate::views::trail::local(signed_at, Some("Europe/Berlin")),
            version: 2,
            record_hash: format!("{:064x}", 2),
            digest: format!("{:064x}", 77),
            status: StatusView::Revoked {
                reason: "signed the wrong stop".to_owned(),
                revoked_at: at("2026-10-25T02:00:00Z"),
            },
        };
        let report =
            TrailReport::new(entries, vec![signature], "Audrey Auditor".to_owned(), at("2026-11-30T12:00:00Z"), 103);
        let html = report.render().unwrap_or_default();
        let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/trail_report.html");
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(golden, &html).unwrap_or_default();
        }
        assert_eq!(html, std::fs::read_to_string(golden).unwrap_or_default(), "the report differs from {golden}");
        assert!(html.contains("Theo &#60;Team&#62; Leader (team_leader)"), "names are escaped");
        assert!(html.contains("<strong>authored</strong>: I am the author"), "the signature's meaning is printed");
        assert!(html.contains("2026-10-25T02:40:00.000000+01:00") && html.contains("2026-10-25T02:40:00.000000+02:00"));
    }
}
