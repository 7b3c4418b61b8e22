//! Pushing each new checkpoint to an external keeper (Part 11 AT-15; docs/event-store.md "Tamper
//! evidence"): a service outside the database that keeps what the log looked like, so that a log later
//! cut short or rewritten no longer extends what it holds. The checkpoint is signed, so plain HTTP
//! carries it without weakening it; a proxy may add TLS.
//!
//! A keeper that is down or slow never holds checkpointing up: the writer only hands the newest
//! checkpoint over, and this task sends it, retrying with backoff until it is taken or a newer one
//! replaces it (the newer one extends it, so the keeper misses nothing it needs).

use std::time::Duration;

use tokio::sync::watch;

use commands::ledger::SignedCheckpoint;

use super::HttpUrl;

/// A keeper that does not answer within this long is retried.
const TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(60);

/// Sends every checkpoint `newest` is given to `url` (a POST with the checkpoint's text), until `stop`.
pub async fn run(
    HttpUrl(url): HttpUrl,
    mut newest: watch::Receiver<Option<SignedCheckpoint>>,
    mut stop: watch::Receiver<bool>,
) {
    let client = match reqwest::Client::builder().timeout(TIMEOUT).build() {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot build the HTTP client for the checkpoint keeper; checkpoints stay in the database");
            return;
        }
    };
    'newest: loop {
        let text = newest.borrow_and_update().as_ref().map(|checkpoint| checkpoint.text.clone());
        if let Some(text) = text {
            let mut retry = FIRST_RETRY;
            while let Err(error) = push(&client, &url, &text).await {
                metrics::counter!("checkpoint_pushes_total", "outcome" => "failed").increment(1);
                tracing::warn!(%error, %url, "the checkpoint keeper did not take the newest checkpoint; retrying");
                tokio::select! {
                    () = tokio::time::sleep(retry) => retry = (retry * 2).min(LAST_RETRY),
                    changed = newest.changed() => if changed.is_err() { return } else { continue 'newest },
                    _ = stop.changed() => return,
                }
            }
        }
        tokio::select! {
            changed = newest.changed() => if changed.is_err() { return },
            _ = stop.changed() => return,
        }
    }
}

async fn push(client: &reqwest::Client, url: &reqwest::Url, text: &str) -> Result<(), reqwest::Error> {
    client
        .post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(text.to_owned())
        .send()
        .await?
        .error_for_status()?;
    metrics::counter!("checkpoint_pushes_total", "outcome" => "taken").increment(1);
    Ok(())
}
