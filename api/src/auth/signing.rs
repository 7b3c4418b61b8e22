//! Re-authentication for an electronic signature (Part 11 ES-01, ES-06, AC-04; docs/part11.md
//! "Electronic signatures"). A bearer token never signs: the signer re-enters the password, and in the
//! first signature of a session the username too. A session is one sign-in on one device, so after a
//! timeout, a sign-out or on another device the next signature is again the first of its session. The
//! signer is always the person signed in: another person's username is refused and, like a wrong
//! password, counted towards the lockout and recorded on the signed-in person's account.

use actix_web::HttpRequest;
use domain::actor::{Actor, Role};
use domain::line_id::LineId;
use domain::signature::{Meaning, RecordRef, SignatureRequest};
use domain::user::{User, UserCommand};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::credentials;
use crate::auth::password;
use crate::auth::principal::record_own;
use crate::auth::session;
use crate::auth::{Principal, Target, Who, authorize};
use crate::error::ApiError;
use crate::state::AppState;

/// What the signer re-enters.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SigningCredentials {
    /// Needed for the first signature of a session; later ones may leave it out.
    pub username: Option<String>,
    pub password: String,
}

impl std::fmt::Debug for SigningCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningCredentials").field("username", &self.username).finish_non_exhaustive()
    }
}

/// Which credentials the next signature of a session needs.
pub async fn needs_username(app: &AppState, session: Uuid) -> Result<bool, ApiError> {
    Ok(session::first_signed_at(&app.pool, session).await?.is_none())
}

/// Checks the re-entered credentials of the signed-in person; a failure is recorded on their account
/// (and may lock it, ending their sessions) before the refusal is returned.
pub async fn reauthenticate(
    app: &AppState,
    request: &HttpRequest,
    principal: &Principal,
    credentials: SigningCredentials,
) -> Result<(), ApiError> {
    let Who::Person { id, .. } = &principal.who else {
        return Err(ApiError::forbidden("people_sign", "only a person signs; a device cannot"));
    };
    let user = app.users.state(&id.to_string()).await?;
    let username = user.username.clone().ok_or_else(|| ApiError::unauthorized("unauthenticated", "unknown account"))?;
    match credentials.username.as_deref() {
        None if needs_username(app, principal.session).await? => {
            return Err(ApiError::unauthorized(
                "username_required",
                "the first signature of a session needs your username and your password",
            ));
        }
        Some(given) if given != username.as_str() => {
            record_failure(app, request, principal, *id, &user).await?;
            return Err(ApiError::forbidden(
                "not_your_account",
                "a signature is made only by the person signed in: enter your own username",
            ));
        }
        _ => {}
    }
    let stored = credentials::by_username(&app.pool, username.as_str()).await?;
    if !password::verify(credentials.password, stored.map(|stored| stored.password)).await? {
        record_failure(app, request, principal, *id, &user).await?;
        return Err(ApiError::unauthorized("invalid_credentials", "the password is wrong"));
    }
    record_own(app, *id, &user, UserCommand::RecordSigningSuccess, request, principal.device.as_ref()).await
}

/// Records a failed signing attempt on the signed-in person's account; a lockout ends their sessions.
async fn record_failure(
    app: &AppState,
    request: &HttpRequest,
    principal: &Principal,
    id: domain::actor::UserId,
    user: &User,
) -> Result<(), ApiError> {
    metrics::counter!("signing_failures_total").increment(1);
    let failure = UserCommand::RecordSigningFailure { max_failed_attempts: app.settings.max_failed_logins };
    record_own(app, id, user, failure, request, principal.device.as_ref()).await?;
    if app.users.state(&id.to_string()).await?.locked_out {
        session::end_all_of_user(&app.pool, &app.sessions, id, "locked out").await?;
    }
    Ok(())
}

/// The personal roles that may sign with `meaning` (the domain's role model).
pub fn signing_roles(meaning: Meaning) -> Vec<Role> {
    [Role::Operator, Role::TeamLeader, Role::Maintenance, Role::Quality, Role::Engineer]
        .into_iter()
        .filter(|role| meaning.may_be_signed_by(*role))
        .collect()
}

/// The signer as the record's line sees them: a role that may sign with `meaning`, in scope.
pub fn signer(principal: &Principal, meaning: Meaning, line: &LineId) -> Result<Actor, ApiError> {
    authorize(principal, &signing_roles(meaning), Target::Line(line))
}

/// The request to sign `record` at `version`: 409 when the record has no such version.
pub async fn request_at(
    app: &AppState,
    record: RecordRef,
    version: u64,
    meaning: Meaning,
    actor: Actor,
) -> Result<SignatureRequest, ApiError> {
    let current = record.record_id.clone();
    commands::signatures::request(&app.pool, record, version, meaning, actor).await?.ok_or_else(|| {
        ApiError::conflict("version_conflict", format!("record {current} has no version {version}; read it again"))
    })
}
