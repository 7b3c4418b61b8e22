//! A production line's full ISA-95 path, `site/area/line`: the id other aggregates refer to it by.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::values::{AreaId, LineCode, SiteId, ValueError};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LineId {
    pub site: SiteId,
    pub area: AreaId,
    pub line: LineCode,
}

impl LineId {
    pub fn parse(path: &str) -> Result<Self, ValueError> {
        let mut parts = path.split('/');
        let (Some(site), Some(area), Some(line), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ValueError::BadCharacters { what: "line path (site/area/line)" });
        };
        Ok(Self { site: SiteId::parse(site)?, area: AreaId::parse(area)?, line: LineCode::parse(line)? })
    }
}
impl TryFrom<String> for LineId {
    type Error = ValueError;
    fn try_from(path: String) -> Result<Self, ValueError> {
        Self::parse(&path)
    }
}
impl From<LineId> for String {
    fn from(id: LineId) -> String {
        id.to_string()
    }
}
impl fmt::Display for LineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.site, self.area, self.line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_path_round_trips_and_needs_exactly_three_parts() {
        let id = LineId::parse("plant-1/packing/L3").expect("valid path");
        assert_eq!(id.to_string(), "plant-1/packing/L3");
        assert!(LineId::parse("plant-1/L3").is_err());
        assert!(LineId::parse("a/b/c/d").is_err());
        assert!(LineId::parse("a//c").is_err());
    }
}
