//! Request bodies several endpoints share.

use domain::values::Reason;
use serde::Deserialize;
use utoipa::ToSchema;

/// A command without fields; the body may be empty.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoFields {}

/// Optional reason for change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MaybeReason {
    #[schema(value_type = Option<String>)]
    pub reason: Option<Reason>,
}

/// Mandatory reason for change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithReason {
    #[schema(value_type = String)]
    pub reason: Reason,
}

/// The JSON shapes of request fields that parse straight into domain values (so they are never
/// half-valid), described for the OpenAPI document only: handlers never build them.
#[allow(dead_code)] // read only by the OpenAPI generator
pub mod shapes {
    use serde::Deserialize;
    use utoipa::ToSchema;

    /// Where a role or a device applies: a site, or one line of it.
    #[derive(Debug, Deserialize, ToSchema)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum Scope {
        Site {
            #[schema(example = "plant-1")]
            site: String,
        },
        Line {
            #[schema(example = "plant-1/packing/L3")]
            line: String,
        },
    }

    /// A shift of the calendar, in the line's local time.
    #[derive(Debug, Deserialize, ToSchema)]
    pub struct Shift {
        #[schema(example = "early")]
        pub name: String,
        #[schema(example = "06:00:00")]
        pub start: String,
        /// At or before `start`: the shift ends the next day.
        #[schema(example = "14:00:00")]
        pub end: String,
        pub breaks: Vec<Break>,
        /// The days it starts on; every day when left out.
        #[schema(example = json!(["mon", "tue", "wed", "thu", "fri"]))]
        pub days: Option<Vec<domain::line::Day>>,
    }

    /// A day the line does not produce.
    #[derive(Debug, Deserialize, ToSchema)]
    pub struct NonProductionDay {
        #[schema(example = "2026-12-25")]
        pub date: String,
        #[schema(example = "Christmas Day")]
        pub name: String,
    }

    /// A planned break inside a shift.
    #[derive(Debug, Deserialize, ToSchema)]
    pub struct Break {
        #[schema(example = "10:00:00")]
        pub start: String,
        /// In ms.
        #[schema(example = 1_800_000)]
        pub duration: u64,
    }

    /// One tier of an escalation ladder: level 2 to 4, and at least one of its timers.
    #[derive(Debug, Deserialize, ToSchema)]
    pub struct Tier {
        pub level: u8,
        pub unacknowledged_after_ms: Option<u64>,
        pub unresolved_after_ms: Option<u64>,
    }

    /// An item of a checklist template.
    #[derive(Debug, Deserialize, ToSchema)]
    pub struct TemplateItem {
        #[schema(example = "guard")]
        pub id: String,
        #[schema(example = "Guard closed")]
        pub prompt: String,
        pub kind: ItemKind,
        pub mandatory: bool,
    }

    /// What an item's answer must be.
    #[derive(Debug, Deserialize, ToSchema)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum ItemKind {
        Check,
        Number { min: Option<i64>, max: Option<i64> },
        Text,
    }

    /// An answer to a checklist item.
    #[derive(Debug, Deserialize, ToSchema)]
    #[serde(tag = "kind", content = "value", rename_all = "snake_case")]
    pub enum Answer {
        Check(bool),
        Number(i64),
        Text(String),
    }
}
