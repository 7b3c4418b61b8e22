//! Black-box tests of the running service on a fresh database each.

// Test code: a failed unwrap is a failed test, with its error in the message (clippy.toml allows the
// same in unit tests; helpers outside a #[test] need it said here).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod andon;
mod audit_trail;
mod bad_input;
mod binary;
mod browser;
mod catalogue;
mod commands;
mod health;
mod identity;
mod journey;
mod ledger;
mod live;
mod oee;
mod prometheus;
mod rebuilds;
mod replica;
mod signatures;
mod support;
