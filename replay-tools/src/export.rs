//! Backups of the log as portable files (`commands::ledger::log_file`): writing one from a database,
//! verifying one offline, and restoring one into an empty database.

use std::io::{BufReader, BufWriter};
use std::path::Path;

use anyhow::Context;
use commands::ledger::VerifierKey;
use commands::ledger::log_file::{Exported, FileVerification};

/// Exports the log in the database at `url` to a new file at `output`.
pub async fn to_file(database: &crate::Database, output: &Path, up_to: Option<u64>) -> anyhow::Result<Exported> {
    let file = std::fs::File::create_new(output).with_context(|| format!("creating {}", output.display()))?;
    let pool = database.connect().await?;
    let mut out = BufWriter::new(file);
    let exported = commands::ledger::log_file::export(&pool, up_to, &mut out).await;
    pool.close().await;
    exported.with_context(|| format!("exporting to {}", output.display()))
}

/// Verifies the export file at `file` with `key` alone.
pub async fn verify_file(file: &Path, key: &VerifierKey) -> anyhow::Result<FileVerification> {
    let opened = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    Ok(commands::ledger::log_file::verify_file(BufReader::new(opened), key).await?)
}

/// Imports the export file at `file` into the empty database at `url`.
pub async fn import(database: &crate::Database, file: &Path, key: &VerifierKey) -> anyhow::Result<FileVerification> {
    let opened = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let pool = database.connect().await?;
    let imported = commands::ledger::log_file::import(&pool, BufReader::new(opened), key).await;
    pool.close().await;
    Ok(imported?)
}
