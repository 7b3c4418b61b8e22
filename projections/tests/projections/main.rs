//! Projector workers against a real PostgreSQL, a fresh database per test.

mod downtime;
mod engine;
mod jobs;
mod support;
