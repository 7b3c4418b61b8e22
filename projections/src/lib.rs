//! MS5 Floor's read side: projector workers and read models, checkpointed in PostgreSQL.
//!
//! Empty until the projections issue: the commit-order log reader it will build on is
//! `commands::event_log::read_committed`.
