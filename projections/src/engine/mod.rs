//! Running async projections: one batch exactly once, by one owner, up to the commit-order horizon.

pub mod checkpoint;
pub mod committed;
pub mod horizon;
pub mod ownership;
pub mod projection;
pub mod worker;
