//! Asking a witness to cosign each new checkpoint (docs/event-store.md, "Witnesses"), C2SP tlog-witness
//! over HTTP: the checkpoint and the consistency proof from the last one the witness accepted. Each
//! cosignature is checked with the witness's key before it is stored beside its checkpoint.
//!
//! Like the keeper, a witness that is down, slow or refusing never holds checkpointing up: this task is
//! handed only the newest checkpoint and retries with backoff until the witness cosigns it or a newer one
//! replaces it. A refusal because the log does not extend what the witness holds is logged as an error:
//! it is what a rewritten log looks like.

use chrono::{DateTime, Utc};
use commands::ledger::witness::{AddCheckpoint, WitnessVerifierKey};
use commands::ledger::{SignedCheckpoint, rows, tree};
use sqlx::PgPool;
use tokio::sync::watch;

use super::HttpUrl;

/// A witness that holds a size we did not know is asked again from it, a few times at most.
const CONFLICTS: usize = 3;

#[derive(Debug, Clone)]
pub struct Witness {
    /// The witness's base URL; requests go to `<url>/add-checkpoint`.
    pub url: HttpUrl,
    pub key: WitnessVerifierKey,
}

#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot prove consistency: {0}")]
    Proof(String),
    #[error("the witness answered {status}: {body}")]
    Refused { status: u16, body: String },
    #[error("the witness's cosignature does not check with its key: {0}")]
    BadCosignature(String),
    #[error("the witness kept asking for another size")]
    Conflicts,
}

/// Asks `witness` to cosign every checkpoint `newest` is given, until `stop`.
pub async fn run(
    pool: PgPool,
    witness: Witness,
    newest: watch::Receiver<Option<SignedCheckpoint>>,
    stop: watch::Receiver<bool>,
) {
    let Some(client) = super::http_client("the witness") else { return };
    let failed = |failure: &Failure, checkpoint: &SignedCheckpoint| {
        metrics::counter!("checkpoint_cosignatures_total", "outcome" => "failed").increment(1);
        match failure {
            Failure::Refused { status: 403 | 422, .. } | Failure::BadCosignature(_) => tracing::error!(
                %failure, size = checkpoint.head.size, witness = witness.key.name(),
                "the witness refuses to cosign the log's checkpoint: the log may have been rewritten"
            ),
            _ => tracing::warn!(%failure, witness = witness.key.name(), "no cosignature yet; retrying"),
        }
    };
    let (pool, client, to) = (&pool, &client, &witness);
    let deliver = |checkpoint: SignedCheckpoint| async move { cosign(pool, client, to, &checkpoint).await };
    super::deliver_newest(newest, stop, deliver, failed).await;
}

/// One checkpoint to the witness, from the size it last cosigned (as stored, else nothing), following
/// the size it says it holds when that differs; the cosignature stored once it checks.
async fn cosign(
    pool: &PgPool,
    client: &reqwest::Client,
    witness: &Witness,
    checkpoint: &SignedCheckpoint,
) -> Result<(), Failure> {
    let new = checkpoint.head.size;
    let mut old =
        rows::last_cosigned(pool, witness.key.name()).await?.map_or(0, |size| u64::try_from(size).unwrap_or(0));
    let url = format!("{}/add-checkpoint", witness.url.0.as_str().trim_end_matches('/'));
    for _ in 0..CONFLICTS {
        if old > new {
            // The witness holds a newer checkpoint already: this one is behind it, the next one is due.
            return Ok(());
        }
        let proof = if old == 0 || old == new {
            Vec::new()
        } else {
            let wanted = tree::needed(|hashes| tree::consistency_proof(new, old, hashes));
            let known = rows::hashes(pool, &wanted).await?;
            tree::consistency_proof(new, old, &known).map_err(|error| Failure::Proof(error.to_string()))?
        };
        let request = AddCheckpoint { old_size: old, proof, checkpoint: checkpoint.text.clone() };
        let response = client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(request.to_text())
            .send()
            .await?;
        let status = response.status().as_u16();
        let body = response.text().await?;
        match status {
            200 => return store(pool, witness, checkpoint, &body).await,
            409 => match body.trim().parse() {
                Ok(held) => old = held,
                Err(_) => return Err(Failure::Refused { status, body }),
            },
            _ => return Err(Failure::Refused { status, body }),
        }
    }
    Err(Failure::Conflicts)
}

async fn store(pool: &PgPool, witness: &Witness, checkpoint: &SignedCheckpoint, body: &str) -> Result<(), Failure> {
    let prefix = format!("— {} ", witness.key.name());
    let line =
        body.lines().find(|line| line.starts_with(&prefix)).map(|line| format!("{line}\n")).ok_or_else(|| {
            Failure::BadCosignature(format!("no signature line of {} in {body:?}", witness.key.name()))
        })?;
    let time = witness
        .key
        .check(&format!("{}{line}", checkpoint.text))
        .map_err(|error| Failure::BadCosignature(error.to_string()))?;
    let cosigned_at = i64::try_from(time).ok().and_then(|seconds| DateTime::<Utc>::from_timestamp(seconds, 0));
    let cosigned_at = cosigned_at.ok_or_else(|| Failure::BadCosignature(format!("time {time} out of range")))?;
    rows::insert_cosignature(
        pool,
        &rows::StoredCosignature {
            tree_size: i64::try_from(checkpoint.head.size).unwrap_or(i64::MAX),
            witness: witness.key.name().to_owned(),
            cosigned_at,
            signature: line,
        },
    )
    .await?;
    metrics::counter!("checkpoint_cosignatures_total", "outcome" => "cosigned").increment(1);
    Ok(())
}
