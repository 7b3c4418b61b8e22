//! Projector workers against a real PostgreSQL, a fresh database per test.

mod engine;
mod jobs;
mod support;
