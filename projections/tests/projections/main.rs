//! Projector workers against a real PostgreSQL, a fresh database per test.

mod andon;
mod boards;
mod downtime;
mod engine;
mod jobs;
mod oee;
mod support;
