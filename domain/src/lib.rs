//! MS5 Floor's domain: the aggregates of a manufacturing floor (lines, jobs, downtime, Andon calls,
//! checklists) and of who may act on it (users, devices), their commands, events and rules, and the
//! value types they are made of.
//!
//! This crate does no IO: no database, no network, no clock, no async runtime. Time, ids and facts
//! about other aggregates come in through commands, so that deciding and replaying are deterministic.
//! Start reading at [`aggregate::Aggregate`], then any aggregate module, e.g. [`job`].

pub mod actor;
pub mod aggregate;
pub mod andon;
pub mod checklist;
pub mod counter;
pub mod device;
pub mod downtime;
pub mod export;
pub mod job;
pub mod line;
pub mod line_id;
pub mod oee;
#[cfg(feature = "openapi")]
mod openapi;
pub mod read_model;
pub mod scope;
pub mod shift_report;
pub mod signature;
#[cfg(test)]
mod test_support;
pub mod user;
pub mod values;
pub mod versions;

pub use aggregate::{Aggregate, Command, Event, Rule};
