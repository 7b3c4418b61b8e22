//! Projector workers against a real PostgreSQL, a fresh database per test.

// Test code: a failed unwrap is a failed test, with its error in the message (clippy.toml allows the
// same in unit tests; helpers outside a #[test] need it said here).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod andon;
mod boards;
mod downtime;
mod engine;
mod jobs;
mod ledger;
mod oee;
mod rebuild;
mod support;
