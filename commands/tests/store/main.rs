//! Store tests on a fresh PostgreSQL database each: what the write side guarantees to everyone who
//! reads the log.

// Test code: a failed unwrap is a failed test, with its error in the message (clippy.toml allows the
// same in unit tests; helpers outside a #[test] need it said here).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod append;
mod commit_order;
mod concurrency;
mod framework;
mod immutability;
mod lookups;
mod snapshots;
mod support;
mod versions;
