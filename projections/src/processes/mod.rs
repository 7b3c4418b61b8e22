//! Processes that issue commands from what the log says. A rebuild never runs them: their effects are
//! new events, not read-model rows.

pub mod escalation;
