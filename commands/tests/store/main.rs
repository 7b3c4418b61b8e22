//! Store tests on a fresh PostgreSQL database each: what the write side guarantees to everyone who
//! reads the log.

mod append;
mod commit_order;
mod concurrency;
mod framework;
mod immutability;
mod lookups;
mod snapshots;
mod support;
