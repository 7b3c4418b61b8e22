//! The scheduled backup (`ms5-replay backup`), as the deployment's CronJob runs it: first the log in
//! the database must verify and still extend the newest checkpoint kept apart by the previous run;
//! then it is exported, the file is verified offline, and only a verified file is given its backup
//! name; last, the newest signed checkpoint in that file is kept apart for the next run. The kept
//! checkpoints live apart from the exports (another volume or bucket), so that whoever can rewrite
//! the database and the exports still cannot make a rewritten history pass (docs/backup-and-restore.md).

use std::path::{Path, PathBuf};

use anyhow::Context;
use commands::ledger::VerifierKey;
use commands::ledger::log_file::{Exported, FileVerification};
use serde::Serialize;

use crate::verify::Verified;

/// What one run found and did.
#[derive(Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Backup {
    /// The log in the database did not verify (or no longer extends the kept checkpoint): nothing was
    /// exported.
    LogRefused { verified: Box<Verified> },
    /// The export did not verify: it was left under its `.unverified` name, never as a backup.
    ExportRefused { file: PathBuf, verification: FileVerification },
    Done {
        file: PathBuf,
        exported: Exported,
        verification: FileVerification,
        /// The size of the kept checkpoint the database's log was checked against, if there was one.
        extends_kept: Option<u64>,
        /// The checkpoint this run kept apart, if the file holds one.
        kept: Option<PathBuf>,
    },
}

impl Backup {
    pub fn is_done(&self) -> bool {
        matches!(self, Self::Done { .. })
    }
}

/// Where one run writes, and with which key it checks.
#[derive(Debug)]
pub struct Places<'a> {
    /// The directory of the export files.
    pub exports: &'a Path,
    /// The directory of the kept checkpoints (`<tree size>.checkpoint`), apart from the exports.
    pub checkpoints: &'a Path,
}

pub async fn run(
    database: &crate::Database,
    places: &Places<'_>,
    key: &VerifierKey,
    quiet: bool,
) -> anyhow::Result<Backup> {
    let kept = newest_kept(places.checkpoints)?;
    let verified = crate::verify::database(database, key, kept.as_ref().map(|(_, file)| file.as_path()), &[]).await?;
    if !verified.is_clean() {
        return Ok(Backup::LogRefused { verified: Box::new(verified) });
    }

    let name = format!("ms5-log-{}.ndjson", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"));
    let file = places.exports.join(&name);
    let unverified = places.exports.join(format!("{name}.unverified"));
    let exported = crate::export::to_file(database, &unverified, (None, None), quiet).await?;
    let verification = crate::export::verify_file(&unverified, key, quiet).await?;
    if !verification.is_clean() {
        return Ok(Backup::ExportRefused { file: unverified, verification });
    }
    std::fs::rename(&unverified, &file).with_context(|| format!("naming {}", file.display()))?;

    let kept_now = match verification.last_checkpoint {
        Some(size) => Some(keep_checkpoint(database, places.checkpoints, size).await?),
        None => None,
    };
    Ok(Backup::Done { file, exported, verification, extends_kept: kept.map(|(size, _)| size), kept: kept_now })
}

/// The kept checkpoint of the largest tree, by its file name.
fn newest_kept(directory: &Path) -> anyhow::Result<Option<(u64, PathBuf)>> {
    let entries = std::fs::read_dir(directory).with_context(|| format!("reading {}", directory.display()))?;
    let mut newest = None;
    for entry in entries {
        let path = entry.with_context(|| format!("reading {}", directory.display()))?.path();
        let size = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_suffix(".checkpoint"))
            .and_then(|size| size.parse::<u64>().ok());
        if let Some(size) = size
            && newest.as_ref().is_none_or(|(largest, _)| size > *largest)
        {
            newest = Some((size, path));
        }
    }
    Ok(newest)
}

/// Writes the stored checkpoint of `size` entries to `<size>.checkpoint` in `directory`; one already
/// there is left as it is (checkpoints of one size from one key are the same tree).
async fn keep_checkpoint(database: &crate::Database, directory: &Path, size: u64) -> anyhow::Result<PathBuf> {
    let file = directory.join(format!("{size}.checkpoint"));
    if file.exists() {
        return Ok(file);
    }
    let pool = database.connect().await?;
    let before = i64::try_from(size).context("the checkpoint's size")? - 1;
    let stored = commands::ledger::rows::checkpoints(&pool, before, 1).await;
    pool.close().await;
    let checkpoint = stored?
        .into_iter()
        .find(|checkpoint| checkpoint.tree_size == before + 1)
        .with_context(|| format!("the checkpoint of {size} entries is no longer in the database"))?;
    let partial = directory.join(format!("{size}.checkpoint.partial"));
    std::fs::write(&partial, checkpoint.note.as_bytes()).with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, &file).with_context(|| format!("naming {}", file.display()))?;
    Ok(file)
}
