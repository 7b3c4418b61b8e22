//! The ledger for auditors (Part 11 AT-15; docs/part11.md): the verifier key and the signed checkpoints
//! to keep outside the database, a proof file for any sealed event, consistency proofs between
//! checkpoints, and verification of the whole log. The ledger spans every line, so these are for the
//! roles that audit the whole database.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use commands::ledger::verify::{Fault, Verification};
use commands::ledger::{LedgerError, VerifierKey, rows};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::access::AUDIT_LEDGER;
use crate::auth::{Target, authorize};
use crate::error::ApiError;
use crate::json::Json;
use crate::query_call::{QueryCall, QueryErrors, RecordNotFound, page_limit};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config
        .service(verifier_key)
        .service(checkpoints)
        .service(latest_checkpoint)
        .service(proof)
        .service(consistency)
        .service(verify);
}

fn from_ledger(error: LedgerError) -> ApiError {
    match error {
        LedgerError::Database(error) => error.into(),
        LedgerError::NotSealed(number) => ApiError::not_found("sealed event with ledger number", &number.to_string()),
        LedgerError::NotCheckpointed(number) => ApiError::conflict(
            "not_checkpointed",
            format!("no signed checkpoint covers ledger number {number} yet; the next one will"),
        ),
        LedgerError::NoSuchCheckpoint(size) => ApiError::not_found("checkpoint of size", &size.to_string()),
        // The stored tree cannot give a proof it should: never the request's fault.
        other => crate::error::internal(&other),
    }
}

fn configured_key(call: &QueryCall) -> Result<&VerifierKey, ApiError> {
    call.app.settings.ledger_verifier.as_ref().ok_or_else(|| {
        ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "no_seal_key",
            "this service signs no checkpoints: it has no seal key",
        )
    })
}

/// The verifier key (C2SP signed-note form, `name+id+key`) that checks every checkpoint.
#[utoipa::path(tag = "ledger", responses(
    (status = 200, content_type = "text/plain", body = String), QueryErrors, RecordNotFound))]
#[get("/api/v1/ledger/verifier-key")]
async fn verifier_key(call: QueryCall) -> Result<HttpResponse, ApiError> {
    authorize(&call.principal, AUDIT_LEDGER, Target::Anywhere)?;
    let key = configured_key(&call)?;
    Ok(HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(format!("{}\n", key.as_str())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CheckpointPage {
    /// Only checkpoints of larger trees (keyset paging).
    pub after_size: Option<u64>,
    /// At most this many (1 to 1000; default 1000).
    pub limit: Option<u32>,
}

/// A signed checkpoint of the ledger's tree.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointView {
    pub tree_size: i64,
    /// Hex.
    pub root_hash: String,
    /// When it was signed (not part of the signed text).
    pub signed_at: DateTime<Utc>,
    /// The C2SP signed note: origin, size, root (base64), a blank line, the signatures.
    pub note: String,
    /// Witnesses' cosignatures, each checked with its witness's key when it was stored.
    pub cosignatures: Vec<CosignatureView>,
}

/// A witness's cosignature (C2SP cosignature/v1) of a checkpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct CosignatureView {
    /// The witness key's name.
    pub witness: String,
    /// The time the witness states in its cosignature.
    pub cosigned_at: DateTime<Utc>,
    /// The signature line; appended to `note` it gives the cosigned checkpoint.
    pub signature: String,
}

/// The checkpoints with their cosignatures.
async fn with_cosignatures(
    pool: &sqlx::PgPool,
    stored: Vec<rows::StoredCheckpoint>,
) -> Result<Vec<CheckpointView>, sqlx::Error> {
    let sizes: Vec<i64> = stored.iter().map(|checkpoint| checkpoint.tree_size).collect();
    let mut cosignatures = rows::cosignatures(pool, &sizes).await?.into_iter().peekable();
    Ok(stored
        .into_iter()
        .map(|checkpoint| {
            let mut view = CheckpointView {
                tree_size: checkpoint.tree_size,
                root_hash: hex::encode(checkpoint.root_hash),
                signed_at: checkpoint.signed_at,
                note: checkpoint.note,
                cosignatures: Vec::new(),
            };
            // Both are in size order.
            while let Some(cosignature) = cosignatures.next_if(|cosignature| cosignature.tree_size == view.tree_size) {
                let rows::StoredCosignature { witness, cosigned_at, signature, .. } = cosignature;
                view.cosignatures.push(CosignatureView { witness, cosigned_at, signature });
            }
            view
        })
        .collect())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Checkpoints {
    pub checkpoints: Vec<CheckpointView>,
}

/// Signed checkpoints in size order, for safekeeping outside the database.
#[utoipa::path(tag = "ledger", params(CheckpointPage), responses((status = 200, body = Checkpoints), QueryErrors))]
#[get("/api/v1/ledger/checkpoints")]
async fn checkpoints(call: QueryCall, query: web::Query<CheckpointPage>) -> Result<HttpResponse, ApiError> {
    authorize(&call.principal, AUDIT_LEDGER, Target::Anywhere)?;
    let after = i64::try_from(query.after_size.unwrap_or(0)).unwrap_or(i64::MAX);
    let page = rows::checkpoints(&call.app.pool, after, page_limit(query.limit)).await?;
    Ok(HttpResponse::Ok().json(Checkpoints { checkpoints: with_cosignatures(&call.app.pool, page).await? }))
}

/// The newest signed checkpoint, as the C2SP signed note alone, with the witnesses' cosignatures after
/// the log's signature.
#[utoipa::path(tag = "ledger", responses(
    (status = 200, content_type = "text/plain", body = String), QueryErrors, RecordNotFound))]
#[get("/api/v1/ledger/checkpoints/latest")]
async fn latest_checkpoint(call: QueryCall) -> Result<HttpResponse, ApiError> {
    authorize(&call.principal, AUDIT_LEDGER, Target::Anywhere)?;
    match rows::latest_checkpoint(&call.app.pool).await? {
        Some(latest) => {
            let cosignatures = rows::cosignatures(&call.app.pool, &[latest.tree_size]).await?;
            let note = cosignatures.into_iter().fold(latest.note, |note, cosignature| note + &cosignature.signature);
            Ok(HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(note))
        }
        None => Err(ApiError::not_found("checkpoint", "(none signed yet)")),
    }
}

/// The proof file of one event: the event as stored, its inclusion proof and the newest signed
/// checkpoint, checkable offline with the verifier key alone (`ms5-replay verify-proof`).
#[utoipa::path(tag = "ledger", params(("ledger_number" = u64, Path, description = "The event's ledger number")),
    responses((status = 200, body = ProofFile), QueryErrors, RecordNotFound,
        (status = 409, body = crate::error::ErrorBody, description = "`not_checkpointed`: no signed checkpoint covers it yet")))]
#[get("/api/v1/ledger/proofs/{ledger_number}")]
async fn proof(call: QueryCall, path: web::Path<u64>) -> Result<HttpResponse, ApiError> {
    let actor = authorize(&call.principal, AUDIT_LEDGER, Target::Anywhere)?;
    let ledger_number = path.into_inner();
    let proof = commands::ledger::proof::prove_event(&call.app.pool, ledger_number).await.map_err(from_ledger)?;
    let selection = format!("ledger_number={ledger_number}");
    let up_to = i64::try_from(ledger_number).unwrap_or(i64::MAX);
    call.record_export(actor, domain::export::ExportKind::EventProof, &selection, up_to).await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"event-{ledger_number}.proof.json\""),
        ))
        .json(proof))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// The older checkpoint's tree size.
    pub old: u64,
    /// The newer checkpoint's tree size.
    pub new: u64,
}

/// Two stored checkpoints and the RFC 6962 proof that the older tree is a prefix of the newer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsistencyView {
    pub old: String,
    pub new: String,
    /// Hex hashes.
    pub proof: Vec<String>,
}

#[utoipa::path(tag = "ledger", params(ConsistencyQuery), responses(
    (status = 200, body = ConsistencyView), QueryErrors, RecordNotFound))]
#[get("/api/v1/ledger/consistency")]
async fn consistency(call: QueryCall, query: web::Query<ConsistencyQuery>) -> Result<HttpResponse, ApiError> {
    authorize(&call.principal, AUDIT_LEDGER, Target::Anywhere)?;
    if query.old > query.new {
        return Err(ApiError::bad_request("invalid_query", "old must not be larger than new"));
    }
    let proven =
        commands::ledger::proof::prove_consistency(&call.app.pool, query.old, query.new).await.map_err(from_ledger)?;
    Ok(HttpResponse::Ok().json(ConsistencyView {
        old: proven.old.text,
        new: proven.new.text,
        proof: proven.proof.iter().map(hex::encode).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// A signed checkpoint kept outside the database: verification fails unless today's log extends it.
    pub external_checkpoint: Option<String>,
    /// Check with this verifier key instead of the service's own.
    pub verifier_key: Option<String>,
}

/// What verification found.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationView {
    pub clean: bool,
    pub entries_checked: u64,
    pub streams: u64,
    pub checkpoints_checked: u64,
    pub newest_checkpoint: Option<u64>,
    /// Entries sealed after the newest checkpoint; the next checkpoint covers them.
    pub entries_after_newest_checkpoint: u64,
    /// Events the sealer has not reached yet.
    pub unsealed_events: u64,
    pub external_checkpoint: Option<u64>,
    pub fault: Option<FaultView>,
}

/// The first fault found.
#[derive(Debug, Serialize, ToSchema)]
pub struct FaultView {
    /// The first ledger number at which the log is not what was sealed, where one can be named.
    pub ledger_number: Option<u64>,
    /// `[record type, record id, sequence]` of the event at fault, where there is one.
    pub record: Option<(String, String, i64)>,
    /// `event_missing`, `ledger_gap`, `sequence_out_of_order`, `chain_broken`, `leaf_mismatch`,
    /// `bad_checkpoint_signature`, `checkpoint_mismatch` or `truncated`.
    pub kind: String,
    pub detail: String,
}

impl From<Verification> for VerificationView {
    fn from(verification: Verification) -> Self {
        Self {
            clean: verification.is_clean(),
            entries_checked: verification.entries_checked,
            streams: verification.streams,
            checkpoints_checked: verification.checkpoints_checked,
            newest_checkpoint: verification.newest_checkpoint,
            entries_after_newest_checkpoint: verification.entries_after_newest_checkpoint,
            unsealed_events: verification.unsealed_events,
            external_checkpoint: verification.external_checkpoint,
            fault: verification.fault.map(FaultView::from),
        }
    }
}

impl From<Fault> for FaultView {
    fn from(fault: Fault) -> Self {
        Self {
            ledger_number: fault.ledger_number,
            record: fault.record.map(|record| (record.aggregate_type, record.aggregate_id, record.sequence)),
            kind: projections::read_models::folded::name_of(&fault.kind),
            detail: fault.detail,
        }
    }
}

/// Verifies the whole log: every stream's chain, the ledger's tree, every checkpoint's signature and
/// root, and optionally a checkpoint kept outside the database. A fault is an answer (200,
/// `clean: false`), not an error.
#[utoipa::path(tag = "ledger", request_body = VerifyRequest, responses(
    (status = 200, body = VerificationView), QueryErrors, RecordNotFound,
    (status = 422, body = crate::error::ErrorBody, description = "`invalid_verifier_key`")))]
#[post("/api/v1/ledger/verify")]
async fn verify(call: QueryCall, body: Json<VerifyRequest>) -> Result<HttpResponse, ApiError> {
    authorize(&call.principal, AUDIT_LEDGER, Target::Anywhere)?;
    let request = body.value;
    let key = match &request.verifier_key {
        Some(text) => VerifierKey::parse(text)
            .map_err(|error| ApiError::unprocessable("invalid_verifier_key", error.to_string()))?,
        None => configured_key(&call)?.clone(),
    };
    let verification = commands::ledger::verify::verify(&call.app.pool, &key, request.external_checkpoint.as_deref())
        .await
        .map_err(from_ledger)?;
    if let Some(fault) = &verification.fault {
        tracing::error!(security_alert = true, kind = ?fault.kind, ledger_number = ?fault.ledger_number, "ledger verification failed: {}", fault.detail);
    }
    Ok(HttpResponse::Ok().json(VerificationView::from(verification)))
}

/// The proof file's shape (`commands::ledger::proof::EventProof`), for the OpenAPI document.
#[allow(dead_code)] // read only by the OpenAPI generator
#[derive(Debug, ToSchema)]
pub struct ProofFile {
    /// `ms5-floor event inclusion proof 1`.
    pub format: String,
    pub ledger_number: u64,
    pub event: ProvenEventShape,
    /// Hex.
    pub stream_hash: String,
    /// Hex hashes, from the leaf upwards.
    pub inclusion_proof: Vec<String>,
    /// The C2SP signed checkpoint the proof leads to.
    pub checkpoint: String,
}

/// The hashed fields of the proven event, as stored.
#[allow(dead_code)] // read only by the OpenAPI generator
#[derive(Debug, ToSchema)]
pub struct ProvenEventShape {
    pub event_id: uuid::Uuid,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: u64,
    pub event_type: String,
    pub event_version: u32,
    pub payload: crate::views::stored::EventPayload,
    pub metadata: crate::views::stored::Metadata,
    pub recorded_at: DateTime<Utc>,
}
