//! Where a role or a device applies: a whole site, or one line of it.

use serde::{Deserialize, Serialize};

use crate::line_id::LineId;
use crate::values::SiteId;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Scope {
    Site { site: SiteId },
    Line { line: LineId },
}

impl Scope {
    /// The site this scope lies in.
    pub fn site(&self) -> &SiteId {
        match self {
            Self::Site { site } => site,
            Self::Line { line } => &line.site,
        }
    }

    /// Whether this scope includes all of `other`.
    pub fn includes(&self, other: &Scope) -> bool {
        match other {
            Self::Site { site } => matches!(self, Self::Site { site: own } if own == site),
            Self::Line { line } => self.covers(line),
        }
    }

    /// Whether this scope includes `line`: a site scope covers every line of its site.
    pub fn covers(&self, line: &LineId) -> bool {
        match self {
            Self::Site { site } => line.site == *site,
            Self::Line { line: own } => own == line,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_scope_covers_its_lines_and_a_line_scope_only_its_line() {
        let line = LineId::parse("plant-1/packing/L3").unwrap();
        let other_site = LineId::parse("plant-2/packing/L3").unwrap();
        let sibling = LineId::parse("plant-1/packing/L4").unwrap();
        let site = Scope::Site { site: SiteId::parse("plant-1").unwrap() };
        assert!(site.covers(&line) && site.covers(&sibling) && !site.covers(&other_site));
        let own = Scope::Line { line: line.clone() };
        assert!(own.covers(&line) && !own.covers(&sibling));
        assert!(site.includes(&own) && !own.includes(&site) && site.includes(&site));
        assert!(!site.includes(&Scope::Line { line: other_site }));
    }
}
