//! The witness (docs/event-store.md, "Witnesses"): an HTTP service, run by someone other than the
//! plant's database administrators, that cosigns the log's checkpoints when, and only when, each one
//! extends the last it accepted (C2SP tlog-witness, `POST /add-checkpoint`). What it accepted is kept in
//! its own state file, written (and synced) before a cosignature leaves, so that a witness restarted
//! after a crash never cosigns a log that contradicts what it cosigned before.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use commands::ledger::witness::{self, AddCheckpoint, Refusal, WitnessKey};
use commands::ledger::{SignedCheckpoint, VerifierKey};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

/// The largest request taken: a checkpoint note and a proof of at most 126 hashes fit many times.
const MAX_REQUEST_BYTES: usize = 64 * 1024;

#[derive(Debug)]
pub struct Settings {
    pub key: WitnessKey,
    /// The verifier key of the log this witness follows.
    pub log: VerifierKey,
    pub state: PathBuf,
    pub listen: SocketAddr,
}

/// What the state file holds: the log followed and the last checkpoint accepted from it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    log: String,
    checkpoint: Option<String>,
}

/// The checkpoint the state file says was accepted last, checked against the log's key; a state file
/// of another log is refused rather than overwritten.
fn held(file: &Path, log: &VerifierKey) -> anyhow::Result<Option<SignedCheckpoint>> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error).with_context(|| format!("reading {}", file.display())),
    };
    let state: State =
        serde_json::from_str(&text).with_context(|| format!("{} is not a witness state file", file.display()))?;
    anyhow::ensure!(
        state.log == log.as_str(),
        "{} follows the log {}, not {}",
        file.display(),
        state.log,
        log.as_str()
    );
    state.checkpoint.map(|text| log.open(&text)).transpose().context("the checkpoint in the state file")
}

/// Replaces the state file: written beside it, synced, renamed over it, the directory synced.
fn keep(file: &Path, log: &VerifierKey, checkpoint: &SignedCheckpoint) -> std::io::Result<()> {
    let state = State { log: log.as_str().to_owned(), checkpoint: Some(checkpoint.text.clone()) };
    let written = file.with_extension("new");
    let mut out = std::fs::File::create(&written)?;
    std::io::Write::write_all(&mut out, &serde_json::to_vec_pretty(&state).map_err(std::io::Error::other)?)?;
    out.sync_all()?;
    std::fs::rename(&written, file)?;
    let directory = file.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::File::open(directory)?.sync_all()
}

/// A new witness key named `name`: the private key written to `output` (a new file, readable by its
/// owner only); returns the verifier key.
pub fn new_key(name: &str, output: &Path) -> anyhow::Result<String> {
    let text = WitnessKey::generate(name).context("a witness's name has no spaces and no `+`")?;
    let key = WitnessKey::parse(&text)?;
    crate::keys::write_private(output, &text)?;
    Ok(key.verifier().text())
}

struct Witness {
    key: WitnessKey,
    log: VerifierKey,
    state: PathBuf,
    held: Mutex<Option<SignedCheckpoint>>,
}

/// Serves until interrupted. Prints `listening on <address>` once it takes requests.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let held = held(&settings.state, &settings.log)?;
    let witness =
        Arc::new(Witness { key: settings.key, log: settings.log, state: settings.state, held: Mutex::new(held) });
    let data = web::Data::from(witness);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(MAX_REQUEST_BYTES))
            .route("/add-checkpoint", web::post().to(add_checkpoint))
    })
    .workers(1)
    .bind(settings.listen)
    .with_context(|| format!("listening on {}", settings.listen))?;
    let address = server.addrs().first().copied().context("no address bound")?;
    println!("listening on {address}");
    server.run().await.context("the witness's HTTP server")
}

async fn add_checkpoint(witness: web::Data<Witness>, body: String) -> HttpResponse {
    let request = match AddCheckpoint::parse(&body) {
        Ok(request) => request,
        Err(refusal) => return refused(&refusal),
    };
    // One request at a time: the check, the state file and the cosignature are one step.
    let mut held = witness.held.lock().await;
    let accepted = match witness::accept(&witness.log, held.as_ref().map(|checkpoint| &checkpoint.head), &request) {
        Ok(accepted) => accepted,
        Err(refusal) => return refused(&refusal),
    };
    if let Err(error) = keep(&witness.state, &witness.log, &accepted) {
        eprintln!("ms5-replay witness: cannot keep the accepted checkpoint in {}: {error}", witness.state.display());
        return HttpResponse::ServiceUnavailable().body("the witness cannot keep its state\n");
    }
    let time = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default();
    let line = witness.key.cosignature_line(&request.checkpoint, time);
    *held = Some(accepted);
    match line {
        Ok(line) => HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(line),
        Err(error) => HttpResponse::InternalServerError().body(format!("{error}\n")),
    }
}

fn refused(refusal: &Refusal) -> HttpResponse {
    let status = StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::BAD_REQUEST);
    eprintln!("ms5-replay witness: refused ({status}): {refusal}");
    match refusal {
        // The log asked from a size the witness does not hold: it is told which, to ask again.
        Refusal::Conflict { held, .. } => {
            HttpResponse::build(status).content_type("text/x.tlog.size").body(format!("{held}\n"))
        }
        _ => HttpResponse::build(status).content_type("text/plain; charset=utf-8").body(format!("{refusal}\n")),
    }
}
