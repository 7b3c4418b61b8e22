//! The async projections: each folds the log into its tables; a rebuild replays them from the first event.

pub mod andon;
pub mod audit;
pub mod downtime;
pub mod folded;
pub mod jobs;
pub mod oee;
pub mod shift_report;
