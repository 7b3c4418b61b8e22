//! Events as the log stores them: the domain's externally tagged enums (`{"JobStarted": {...}}`) split
//! into an event type and a payload, and joined again when read.

use serde_json::Value;

use crate::error::StoreError;

/// Splits an externally tagged event (`{"JobStarted": {...}}`) into its payload.
pub(crate) fn encode_event<E: domain::Event>(event: &E) -> Result<(&'static str, Value), StoreError> {
    let event_type = event.event_type();
    let mut tagged = serde_json::to_value(event)?;
    let payload = tagged.as_object_mut().and_then(|fields| fields.remove(event_type)).ok_or_else(|| {
        StoreError::Corrupt(serde::ser::Error::custom(format!("{event_type} does not serialise tagged")))
    })?;
    Ok((event_type, payload))
}

/// Joins a stored payload of `event_type` at schema `version` into the domain's event, raising it to
/// the current version first (`domain::versions`).
pub(crate) fn decode_event<E: domain::Event>(event_type: &str, version: i32, payload: Value) -> Result<E, StoreError> {
    let version = u32::try_from(version).unwrap_or_default();
    let payload = domain::versions::upcast(event_type, version, payload)?;
    let mut tagged = serde_json::Map::with_capacity(1);
    tagged.insert(event_type.to_owned(), payload);
    Ok(serde_json::from_value(Value::Object(tagged))?)
}
