//! Verification for auditors: the whole log in a database (`commands::ledger::verify`), or one event's
//! proof file alone, offline.

use std::path::Path;

use anyhow::Context;
use commands::ledger::VerifierKey;
use commands::ledger::proof::EventProof;
use commands::ledger::verify::{Verification, Witnessed};
use commands::ledger::witness::WitnessVerifierKey;
use serde::Serialize;

/// A key given as its text or as a file holding it: the text.
fn key_text(given: &str) -> anyhow::Result<String> {
    if Path::new(given).is_file() {
        std::fs::read_to_string(given).with_context(|| format!("reading {given}"))
    } else {
        Ok(given.to_owned())
    }
}

/// A verifier key given as its text or as a file holding it.
pub fn verifier_key(given: &str) -> anyhow::Result<VerifierKey> {
    VerifierKey::parse(&key_text(given)?).context("the verifier key")
}

/// What checking a proof file found.
#[derive(Debug, Serialize)]
pub struct ProofReport {
    pub valid: bool,
    pub ledger_number: u64,
    pub record: String,
    pub checkpoint_size: Option<u64>,
    pub error: Option<String>,
}

/// Checks an event's proof file with the verifier key alone: no database, no network.
pub fn proof_file(file: &Path, key: &VerifierKey) -> anyhow::Result<ProofReport> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let proof: EventProof =
        serde_json::from_str(&text).with_context(|| format!("{} is not a proof file", file.display()))?;
    let record = format!("{}/{} #{}", proof.event.aggregate_type, proof.event.aggregate_id, proof.event.sequence);
    let checked = proof.check(key);
    Ok(ProofReport {
        valid: checked.is_ok(),
        ledger_number: proof.ledger_number,
        record,
        checkpoint_size: checked.as_ref().ok().map(|head| head.size),
        error: checked.err().map(|error| error.to_string()),
    })
}

/// A witness verifier key given as its text or as a file holding it.
pub fn witness_key(given: &str) -> anyhow::Result<WitnessVerifierKey> {
    WitnessVerifierKey::parse(&key_text(given)?).context("the witness key")
}

/// The log's verification and, for each witness given, its cosignatures'.
#[derive(Debug, Serialize)]
pub struct Verified {
    #[serde(flatten)]
    pub log: Verification,
    pub witnesses: Vec<Witnessed>,
}

impl Verified {
    pub fn is_clean(&self) -> bool {
        self.log.is_clean() && self.witnesses.iter().all(|witness| witness.bad.is_none())
    }
}

/// Verifies the log in the database, optionally against a checkpoint kept outside it, and the stored
/// cosignatures of `witnesses`.
pub async fn database(
    database: &crate::Database,
    key: &VerifierKey,
    external: Option<&Path>,
    witnesses: &[WitnessVerifierKey],
) -> anyhow::Result<Verified> {
    let external = external
        .map(|file| std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display())))
        .transpose()?;
    let pool = database.connect().await?;
    let log = commands::ledger::verify::verify(&pool, key, external.as_deref()).await?;
    let witnesses = commands::ledger::verify::cosignatures(&pool, witnesses).await?;
    pool.close().await;
    Ok(Verified { log, witnesses })
}
