//! Black-box tests of the running service on a fresh database each.

mod access;
mod binary;
mod health;
mod identity;
mod journey;
mod support;
