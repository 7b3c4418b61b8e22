//! Pushing each new checkpoint to an external keeper (Part 11 AT-15; docs/event-store.md "Tamper
//! evidence"): a service outside the database that keeps what the log looked like, so that a log later
//! cut short or rewritten no longer extends what it holds. The checkpoint is signed, so plain HTTP
//! carries it without weakening it; a proxy may add TLS.
//!
//! A keeper that is down or slow never holds checkpointing up: the writer only hands the newest
//! checkpoint over, and this task sends it, retrying with backoff until it is taken or a newer one
//! replaces it (the newer one extends it, so the keeper misses nothing it needs).

use tokio::sync::watch;

use commands::ledger::SignedCheckpoint;

use super::HttpUrl;

/// Sends every checkpoint `newest` is given to `url` (a POST with the checkpoint's text), until `stop`.
pub async fn run(
    HttpUrl(url): HttpUrl,
    newest: watch::Receiver<Option<SignedCheckpoint>>,
    stop: watch::Receiver<bool>,
) {
    let Some(client) = super::http_client("the checkpoint keeper") else { return };
    let failed = |error: &reqwest::Error, _: &SignedCheckpoint| {
        metrics::counter!("checkpoint_pushes_total", "outcome" => "failed").increment(1);
        tracing::warn!(%error, %url, "the checkpoint keeper did not take the newest checkpoint; retrying");
    };
    let (client, to) = (&client, &url);
    let deliver = |checkpoint: SignedCheckpoint| async move { push(client, to, &checkpoint.text).await };
    super::deliver_newest(newest, stop, deliver, failed).await;
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
