//! Process-local caches for live reads, kept from the read models' commit announcements; never rebuilt.

pub mod changes;
pub mod lag;
pub mod line_status;
