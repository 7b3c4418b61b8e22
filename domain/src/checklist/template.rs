//! Checklist template: the items a checklist asks, per line and optionally per product. Revisions are
//! new versions with a reason; a started checklist keeps the version it was started from.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::{self, event_enum};
use crate::line_id::LineId;
use crate::values::{ChecklistItemId, Name, ProductId, Reason};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ItemKind {
    Check,
    Number { min: Option<i64>, max: Option<i64> },
    Text,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TemplateItem {
    pub id: ChecklistItemId,
    pub prompt: Name,
    pub kind: ItemKind,
    pub mandatory: bool,
}

/// One version of a template, as a checklist is started from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TemplateVersion {
    pub template_id: String,
    pub version: u32,
    pub items: Vec<TemplateItem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChecklistTemplateCommand {
    Define { line: LineId, product: Option<ProductId>, name: Name, items: Vec<TemplateItem>, reason: Option<Reason> },
}

impl aggregate::Command for ChecklistTemplateCommand {
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::Define { reason, .. } => reason.as_ref(),
        }
    }
}

event_enum! {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum ChecklistTemplateEvent {
        ChecklistTemplateDefined { version: u32, line: LineId, product: Option<ProductId>, name: Name, items: Vec<TemplateItem>, reason: Option<Reason>, at: DateTime<Utc> },
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChecklistTemplateError {
    #[error("a checklist template needs at least one item")]
    NoItems,
    #[error("item {0} appears twice")]
    DuplicateItem(ChecklistItemId),
    #[error("item {0} has a minimum above its maximum")]
    BadLimits(ChecklistItemId),
    #[error("revising a template needs a reason")]
    ReasonRequired,
    #[error("a template stays on the line it was defined for")]
    LineChanged,
}

impl crate::aggregate::Rule for ChecklistTemplateError {
    fn code(&self) -> &'static str {
        match self {
            Self::NoItems { .. } => "no_items",
            Self::DuplicateItem { .. } => "duplicate_item",
            Self::BadLimits { .. } => "bad_limits",
            Self::ReasonRequired { .. } => "reason_required",
            Self::LineChanged { .. } => "line_changed",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistTemplate {
    pub line: Option<LineId>,
    pub version: u32,
    pub items: Vec<TemplateItem>,
}

impl aggregate::Aggregate for ChecklistTemplate {
    const TYPE: &'static str = "checklist_template";
    type Command = ChecklistTemplateCommand;
    type Event = ChecklistTemplateEvent;
    type Error = ChecklistTemplateError;

    fn handle(
        &self,
        command: ChecklistTemplateCommand,
        at: DateTime<Utc>,
    ) -> Result<Vec<ChecklistTemplateEvent>, ChecklistTemplateError> {
        let ChecklistTemplateCommand::Define { line, product, name, items, reason } = command;
        if items.is_empty() {
            return Err(ChecklistTemplateError::NoItems);
        }
        let mut seen = BTreeSet::new();
        for item in &items {
            if !seen.insert(&item.id) {
                return Err(ChecklistTemplateError::DuplicateItem(item.id.clone()));
            }
            if let ItemKind::Number { min: Some(min), max: Some(max) } = item.kind
                && min > max
            {
                return Err(ChecklistTemplateError::BadLimits(item.id.clone()));
            }
        }
        if let Some(current) = &self.line {
            if *current != line {
                return Err(ChecklistTemplateError::LineChanged);
            }
            if reason.is_none() {
                return Err(ChecklistTemplateError::ReasonRequired);
            }
        }
        Ok(vec![ChecklistTemplateEvent::ChecklistTemplateDefined {
            version: self.version + 1,
            line,
            product,
            name,
            items,
            reason,
            at,
        }])
    }

    fn apply(&mut self, event: &ChecklistTemplateEvent) {
        let ChecklistTemplateEvent::ChecklistTemplateDefined { version, line, items, .. } = event;
        self.line = Some(line.clone());
        self.version = *version;
        self.items = items.clone();
    }
}
