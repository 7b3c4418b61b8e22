//! The JSON shapes of what the log stores with every event, described for the OpenAPI document. Answers
//! show the stored JSON itself (the bytes the hash chain covers), never a re-serialisation, so these
//! types are never built: the payload's schema is derived from the domain's event types, the metadata's
//! is written here.

use utoipa::openapi::schema::{OneOf, Schema};
use utoipa::openapi::{RefOr, schema::OneOfBuilder};
use utoipa::{PartialSchema, ToSchema};

/// Who, why and from where (Part 11 AT-02, AT-09): written with every event.
#[allow(dead_code)] // read only by the OpenAPI generator
#[derive(Debug, ToSchema)]
pub struct Metadata {
    pub actor_user_id: uuid::Uuid,
    /// The actor's printed name at the time.
    pub actor_name: String,
    /// The role the actor used.
    #[schema(example = "operator")]
    pub actor_role: String,
    /// The reason, where a record changed or was voided.
    pub reason: Option<String>,
    pub correlation_id: uuid::Uuid,
    pub causation_id: uuid::Uuid,
    pub device_id: Option<String>,
    /// When the data was taken at its source.
    pub source_timestamp: Option<chrono::DateTime<chrono::Utc>>,
    pub source_sequence: Option<u64>,
    pub idempotency_key: Option<String>,
}

/// An event's payload as stored: the fields of the event its `event_type` names, one of the shapes below
/// (each titled with its event type).
#[derive(Debug)]
pub struct EventPayload;

impl PartialSchema for EventPayload {
    fn schema() -> RefOr<Schema> {
        let mut payloads = OneOfBuilder::new()
            .description(Some(
                "The fields of the event named by `event_type`; each shape is titled with its event type.",
            ))
            .build();
        for tagged in [
            domain::line::LineEvent::schema(),
            domain::job::JobEvent::schema(),
            domain::downtime::DowntimeEvent::schema(),
            domain::andon::AndonEvent::schema(),
            domain::checklist::ChecklistTemplateEvent::schema(),
            domain::checklist::ChecklistEvent::schema(),
            domain::user::UserEvent::schema(),
            domain::device::DeviceEvent::schema(),
            domain::export::ExportEvent::schema(),
            domain::read_model::ReadModelEvent::schema(),
            domain::shift_report::ShiftReportEvent::schema(),
        ] {
            untag(tagged, &mut payloads);
        }
        Schema::OneOf(payloads).into()
    }
}

impl ToSchema for EventPayload {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        <domain::line::LineEvent as ToSchema>::schemas(schemas);
        <domain::job::JobEvent as ToSchema>::schemas(schemas);
        <domain::downtime::DowntimeEvent as ToSchema>::schemas(schemas);
        <domain::andon::AndonEvent as ToSchema>::schemas(schemas);
        <domain::checklist::ChecklistTemplateEvent as ToSchema>::schemas(schemas);
        <domain::checklist::ChecklistEvent as ToSchema>::schemas(schemas);
        <domain::user::UserEvent as ToSchema>::schemas(schemas);
        <domain::device::DeviceEvent as ToSchema>::schemas(schemas);
        <domain::export::ExportEvent as ToSchema>::schemas(schemas);
        <domain::read_model::ReadModelEvent as ToSchema>::schemas(schemas);
        <domain::shift_report::ShiftReportEvent as ToSchema>::schemas(schemas);
    }
}

/// The domain's events are externally tagged (`{"JobStarted": {...}}`); the log stores the inside as the
/// payload and the tag as the event type. Moves each variant's inside into `payloads`, titled by its tag.
fn untag(tagged: RefOr<Schema>, payloads: &mut OneOf) {
    let RefOr::T(Schema::OneOf(variants)) = tagged else { return };
    for variant in variants.items {
        let RefOr::T(Schema::Object(wrapper)) = variant else { continue };
        let description = wrapper.description.clone();
        for (event_type, inside) in wrapper.properties {
            let inside = match inside {
                RefOr::T(Schema::Object(mut fields)) => {
                    fields.title = Some(event_type);
                    fields.description = fields.description.or_else(|| description.clone());
                    RefOr::T(Schema::Object(fields))
                }
                other => other,
            };
            payloads.items.push(inside);
        }
    }
}
