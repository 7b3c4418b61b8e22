//! Our pure domain aggregates as cqrs-es aggregates. `domain` stays free of cqrs-es (which brings an
//! async runtime); this wrapper gives the framework what it needs and passes decisions straight through.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

/// A domain aggregate seen by cqrs-es.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Adapted<A>(pub A);

/// A domain event seen by cqrs-es.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AdaptedEvent<E>(pub E);

impl<E: domain::Event> cqrs_es::DomainEvent for AdaptedEvent<E> {
    fn event_type(&self) -> String {
        self.0.event_type().to_owned()
    }
    fn event_version(&self) -> String {
        self.0.event_version().to_string()
    }
}

/// A domain command with the server time it is decided at.
#[derive(Debug, Clone)]
pub struct Stamped<C> {
    pub command: C,
    pub now: DateTime<Utc>,
}

impl<A: domain::Aggregate> cqrs_es::Aggregate for Adapted<A> {
    const TYPE: &'static str = A::TYPE;
    type Command = Stamped<A::Command>;
    type Event = AdaptedEvent<A::Event>;
    type Error = A::Error;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), A::Error> {
        let events = self.0.handle(command.command, command.now)?;
        for event in events {
            sink.write(AdaptedEvent(event), self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        self.0.apply(&event.0);
    }
}
