//! Command-line tools for auditors and admins (`ms5-replay`): verify the whole log in the database, and
//! check an event's proof file offline with nothing but the verifier key. Each tool is a function here
//! that returns what it found; `main` parses the command line and prints.

pub mod verify;
