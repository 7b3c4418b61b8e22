//! An export of records for inspection (Part 11 RC-01, 11.10(b)): who took a copy of what, when, and
//! up to where in the log. Each export is a record of its own with one event, written before the copy
//! is sent, so that no copy leaves unrecorded.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::{self, event_enum};
use crate::values::Description;

/// What was exported, in which form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ExportKind {
    /// Audit trail entries as CSV.
    TrailCsv,
    /// Audit trail entries as NDJSON.
    TrailNdjson,
    /// A record's audit trail as a printable report.
    TrailReport,
    /// One event with its inclusion proof and signed checkpoint.
    EventProof,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportCommand {
    /// `selection` says what was asked for, as the reader asked it; `up_to` is how far the copy reaches:
    /// the last log position a trail export can hold, the ledger number of a proven event.
    Record { kind: ExportKind, selection: Description, up_to: i64 },
}

impl aggregate::Command for ExportCommand {}

event_enum! {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum ExportEvent {
        RecordsExported { kind: ExportKind, selection: Description, up_to: i64, at: DateTime<Utc> },
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    #[error("this export is already recorded")]
    AlreadyRecorded,
}

impl aggregate::Rule for ExportError {
    fn code(&self) -> &'static str {
        match self {
            Self::AlreadyRecorded => "already_recorded",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    pub recorded: Option<(ExportKind, Description, i64)>,
}

impl aggregate::Aggregate for Export {
    const TYPE: &'static str = "export";
    type Command = ExportCommand;
    type Event = ExportEvent;
    type Error = ExportError;

    fn handle(&self, command: ExportCommand, at: DateTime<Utc>) -> Result<Vec<ExportEvent>, ExportError> {
        let ExportCommand::Record { kind, selection, up_to } = command;
        if self.recorded.is_some() {
            return Err(ExportError::AlreadyRecorded);
        }
        Ok(vec![ExportEvent::RecordsExported { kind, selection, up_to, at }])
    }

    fn apply(&mut self, event: &ExportEvent) {
        let ExportEvent::RecordsExported { kind, selection, up_to, .. } = event;
        self.recorded = Some((*kind, selection.clone(), *up_to));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{given, test_now};

    #[test]
    fn an_export_is_recorded_once() {
        let selection = Description::parse("record_type=job&record_id=j-1").unwrap();
        let record = ExportCommand::Record { kind: ExportKind::TrailCsv, selection: selection.clone(), up_to: 42 };
        let recorded =
            ExportEvent::RecordsExported { kind: ExportKind::TrailCsv, selection, up_to: 42, at: test_now() };
        assert_eq!(given::<Export>(&[], record.clone()), Ok(vec![recorded.clone()]));
        assert_eq!(given::<Export>(&[recorded], record), Err(ExportError::AlreadyRecorded));
    }
}
