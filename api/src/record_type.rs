//! The kinds of record a reader names (`record_type=job`), and the event streams they are stored in.

use serde::Deserialize;
use utoipa::ToSchema;

/// The kinds of record, as event streams name them.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordType {
    Line,
    Job,
    Downtime,
    AndonCall,
    ChecklistTemplate,
    Checklist,
    User,
    Device,
    /// A read model's rebuilds (who asked, why, when queries switched).
    ReadModel,
    /// A shift occurrence's report: handover notes, contents fixed for approval, signatures.
    ShiftReport,
}

impl RecordType {
    /// The aggregate type its events are stored under.
    pub fn stream_type(self) -> &'static str {
        use domain::Aggregate as _;
        match self {
            Self::Line => domain::line::Line::TYPE,
            Self::Job => domain::job::Job::TYPE,
            Self::Downtime => domain::downtime::Downtime::TYPE,
            Self::AndonCall => domain::andon::AndonCall::TYPE,
            Self::ChecklistTemplate => domain::checklist::ChecklistTemplate::TYPE,
            Self::Checklist => domain::checklist::Checklist::TYPE,
            Self::User => domain::user::User::TYPE,
            Self::Device => domain::device::Device::TYPE,
            Self::ReadModel => domain::read_model::ReadModel::TYPE,
            Self::ShiftReport => domain::shift_report::ShiftReport::TYPE,
        }
    }
}
