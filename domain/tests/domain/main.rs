//! The domain's integration tests, one binary: the workspace's dependency rules, the persisted names,
//! and properties of the arithmetic.

mod architecture;
mod persisted_names;
mod properties;
