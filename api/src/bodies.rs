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
