//! OpenAPI schemas of the types whose JSON is not their fields' (behind the `openapi` feature, for the
//! API's document). Stored events are part of the HTTP contract as they are stored, so their schemas are
//! derived from the types that write them and cannot drift from the log.

use utoipa::openapi::schema::{ArrayBuilder, Schema};
use utoipa::openapi::{ObjectBuilder, Ref, RefOr, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::andon::{EscalationLadder, Tier};
use crate::line_id::LineId;

impl PartialSchema for LineId {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("A line's ISA-95 path, `site/area/line`."))
            .examples(["acme/packing/line-1"])
            .into()
    }
}
impl ToSchema for LineId {}

impl PartialSchema for EscalationLadder {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .items(Ref::from_schema_name(Tier::name()))
            .description(Some("Tiers in rising level, each firing later than the tiers below it."))
            .into()
    }
}
impl ToSchema for EscalationLadder {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((Tier::name().into_owned(), Tier::schema()));
    }
}
