//! Command-line tools for auditors and admins (`ms5-replay`): replay a record step by step or as of a
//! past point, verify the whole log in the database,
//! check an event's proof file offline with nothing but the verifier key, export the log to a portable
//! file and verify such a file offline, and take the scheduled backup. Each tool is a function here
//! that returns what it found; `main` parses the command line and prints.

pub mod backup;
pub mod export;
pub mod keys;
pub mod log;
pub mod rebuild;
pub mod record;
pub mod verify;
pub mod witness;

use std::time::Duration;

use anyhow::Context;

/// Where the database is, for the tools that read or write one.
#[derive(Debug, Clone, clap::Args)]
pub struct Database {
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// How long to wait for the database before giving up.
    #[arg(long, default_value_t = 10)]
    pub connect_timeout_seconds: u64,
}

impl Database {
    pub async fn connect(&self) -> anyhow::Result<sqlx::PgPool> {
        // Room for the read model workers `rebuild` and `compare` run (each listens on a connection of
        // its own) beside the tool's own queries.
        let options = commands::database::connect_options(&self.database_url).context("the database URL")?;
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(self.connect_timeout_seconds))
            .connect_with(options)
            .await
            .context("connecting to the database")
    }
}

/// A progress bar for long work: done of total with rate and time left, on the terminal's stderr;
/// hidden when `quiet` (machine-readable output).
pub fn progress_bar(quiet: bool, message: String) -> anyhow::Result<indicatif::ProgressBar> {
    let bar = if quiet { indicatif::ProgressBar::hidden() } else { indicatif::ProgressBar::new(0) };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} events, {per_sec}, {eta} left")
            .context("the progress bar")?
            .progress_chars("=> "),
    );
    bar.set_message(message);
    Ok(bar)
}
