//! Authentication and authorisation: passwords and device secrets, sessions and access tokens, the
//! principal of a request, and the role and scope check.

pub mod access;
pub mod credentials;
pub mod password;
pub mod principal;
pub mod session;
pub mod signing;
pub mod token;

pub use access::{Target, authorize};
pub use principal::{Principal, Who};
