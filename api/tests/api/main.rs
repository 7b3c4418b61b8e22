//! Black-box tests of the running service on a fresh database each.

mod access;
mod andon;
mod bad_input;
mod binary;
mod catalogue;
mod commands;
mod health;
mod identity;
mod journey;
mod live;
mod oee;
mod support;
