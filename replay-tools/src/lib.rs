//! Command-line tools for auditors and admins (`ms5-replay`): verify the whole log in the database,
//! check an event's proof file offline with nothing but the verifier key, export the log to a portable
//! file and verify such a file offline. Each tool is a function here
//! that returns what it found; `main` parses the command line and prints.

pub mod export;
pub mod verify;
