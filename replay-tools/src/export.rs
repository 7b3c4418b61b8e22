//! Backups of the log as portable files (`commands::ledger::log_file`): writing one from a database,
//! verifying one offline, and restoring one into an empty database, each with a progress bar unless
//! `quiet`.

use std::io::{BufReader, BufWriter};
use std::path::Path;

use anyhow::Context;
use commands::ledger::VerifierKey;
use commands::ledger::log_file::{Exported, FileVerification};

/// A progress callback for `commands::ledger::log_file` that moves `bar`.
fn follow(bar: &indicatif::ProgressBar) -> impl FnMut(u64, u64) + Send + '_ {
    |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    }
}

/// Exports the log in `database` to a new file at `output`.
pub async fn to_file(
    database: &crate::Database,
    output: &Path,
    range: (Option<u64>, Option<u64>),
    quiet: bool,
) -> anyhow::Result<Exported> {
    let file = std::fs::File::create_new(output).with_context(|| format!("creating {}", output.display()))?;
    let pool = database.connect().await?;
    let mut out = BufWriter::new(file);
    let bar = crate::progress_bar(quiet, format!("exporting to {}", output.display()))?;
    let exported = commands::ledger::log_file::export(&pool, range.0, range.1, &mut out, &mut follow(&bar)).await;
    bar.finish_and_clear();
    pool.close().await;
    exported.with_context(|| format!("exporting to {}", output.display()))
}

/// Verifies the export file at `file` with `key` alone.
pub async fn verify_file(file: &Path, key: &VerifierKey, quiet: bool) -> anyhow::Result<FileVerification> {
    let opened = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let bar = crate::progress_bar(quiet, format!("verifying {}", file.display()))?;
    let verified = commands::ledger::log_file::verify_file(BufReader::new(opened), key, &mut follow(&bar)).await;
    bar.finish_and_clear();
    Ok(verified?)
}

/// Imports the export file at `file` into the empty `database`.
pub async fn import(
    database: &crate::Database,
    file: &Path,
    key: &VerifierKey,
    quiet: bool,
) -> anyhow::Result<FileVerification> {
    let opened = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let pool = database.connect().await?;
    let bar = crate::progress_bar(quiet, format!("importing {}", file.display()))?;
    let imported = commands::ledger::log_file::import(&pool, BufReader::new(opened), key, &mut follow(&bar)).await;
    bar.finish_and_clear();
    pool.close().await;
    Ok(imported?)
}
