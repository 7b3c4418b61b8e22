//! Running async projections: one batch exactly once, by one owner, up to the commit-order horizon, and
//! rebuilding them blue/green.

pub mod checkpoint;
pub mod colors;
pub mod committed;
pub mod horizon;
pub mod ownership;
pub mod projection;
pub mod worker;
