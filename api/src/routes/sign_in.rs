//! Signing in and out: people with username and password (optionally on an enrolled tablet), PLC
//! gateways with their device secret; refreshing access tokens; changing one's own password; and the
//! one-time bootstrap of the first administrator.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::Utc;
use domain::actor::{Actor, Role, UserId};
use domain::scope::Scope;
use domain::user::{RoleGrant, User, UserCommand, Username};
use domain::values::{DeviceId, Name, SiteId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::credentials::new_password_hash;
use crate::auth::credentials::{self, NewSecret, UserCredentials};
use crate::auth::password;
use crate::auth::principal::{context, record_own};
use crate::auth::session::{self, Unusable};
use crate::auth::{Principal, Who};
use crate::error::{ApiError, ErrorBody};
use crate::json::Json;
use crate::state::AppState;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    let signing_in = utoipa_actix_web::scope("/api/v1/auth")
        .service(login)
        .service(device_login)
        .service(refresh)
        .service(logout)
        .service(me)
        .service(change_password);
    config.service(bootstrap).service(signing_in);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Tokens {
    pub access_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Exchanges for a new access token while the session is open; keep it secret.
    pub refresh_token: String,
    pub session_id: Uuid,
}

async fn tokens(app: &AppState, session: Uuid, refresh_token: String, subject: String) -> Result<Tokens, ApiError> {
    let ttl = app.settings.access_token_ttl;
    let access_token = app.keys().await?.issue(session, subject, ttl)?;
    Ok(Tokens { access_token, token_type: "Bearer", expires_in: ttl.as_secs(), refresh_token, session_id: session })
}

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized("invalid_credentials", "the username or password is wrong")
}

/// Checks a person's password, recording a failure (and a lockout) against the account.
async fn check_password(
    app: &AppState,
    request: &HttpRequest,
    username: &str,
    password: String,
    device: Option<&DeviceId>,
) -> Result<(UserId, User, UserCredentials), ApiError> {
    // A name that cannot be a username belongs to no account (and must not reach the database as is).
    let stored = match Username::parse(username) {
        Ok(username) => credentials::by_username(&app.pool, username.as_str()).await?,
        Err(_) => None,
    };
    let matches = password::verify(password, stored.as_ref().map(|c| c.password.clone())).await?;
    let Some(stored) = stored else {
        tracing::warn!("sign-in with an unknown username");
        metrics::counter!("logins_total", "outcome" => "unknown_user").increment(1);
        return Err(invalid_credentials());
    };
    let id = UserId::from_uuid(stored.user_id);
    let user = app.users.state(&id.to_string()).await?;
    if !matches || !user.may_act() {
        let failure = UserCommand::RecordLoginFailure { max_failed_attempts: app.settings.max_failed_logins };
        record_own(app, id, &user, failure, request, device).await?;
        if !user.locked_out && app.users.state(&id.to_string()).await?.locked_out {
            // Locked now: sessions the person still has (on other instances, too) end with it.
            session::end_all_of_user(&app.pool, &app.sessions, id, "locked out").await?;
            metrics::counter!("lockouts_total").increment(1);
        }
        metrics::counter!("logins_total", "outcome" => "failed").increment(1);
        return Err(if !matches {
            invalid_credentials()
        } else if user.deactivated {
            ApiError::forbidden("account_deactivated", "the account is deactivated")
        } else {
            ApiError::forbidden("account_locked", "the account is locked; an administrator can unlock it")
        });
    }
    Ok((id, user, stored))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub username: String,
    pub password: String,
    /// The enrolled tablet signed in on; its id is then recorded on every event of the session.
    pub device: Option<DeviceCredentials>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceCredentials {
    #[schema(value_type = String)]
    pub device_id: DeviceId,
    pub secret: String,
}

/// Checks an enrolled device's secret; a revoked or unknown device fails like a wrong secret.
async fn check_device(app: &AppState, credentials: DeviceCredentials) -> Result<domain::device::Device, ApiError> {
    let stored = credentials::device_secret(&app.pool, credentials.device_id.as_str()).await?;
    let matches = password::verify(credentials.secret, stored).await?;
    let device = app.devices.state(credentials.device_id.as_str()).await?;
    if !matches || device.revoked || device.enrolled.is_none() {
        metrics::counter!("device_logins_total", "outcome" => "failed").increment(1);
        tracing::warn!(device = %credentials.device_id, "device authentication failed");
        return Err(ApiError::unauthorized("invalid_device_credentials", "the device id or secret is wrong"));
    }
    Ok(device)
}

#[utoipa::path(tag = "auth", request_body = Login, security(()), responses(
    (status = 200, body = Tokens, description = "Signed in"),
    (status = 400, body = ErrorBody), (status = 401, body = ErrorBody, description = "Wrong credentials"),
    (status = 403, body = ErrorBody, description = "Locked, deactivated, or the password must be changed first"),
    (status = 503, body = ErrorBody)))]
#[post("/login")]
async fn login(app: web::Data<AppState>, request: HttpRequest, body: Json<Login>) -> Result<HttpResponse, ApiError> {
    let Login { username, password, device } = body.value;
    let device_id = match device {
        Some(credentials) => {
            let id = credentials.device_id.clone();
            check_device(&app, credentials).await?;
            Some(id)
        }
        None => None,
    };
    let (id, user, stored) = check_password(&app, &request, &username, password, device_id.as_ref()).await?;
    if stored.must_change || user.must_change_password {
        return Err(ApiError::forbidden(
            "password_change_required",
            "set a new password first (POST /api/v1/auth/password)",
        ));
    }
    let age = (Utc::now() - stored.set_at).to_std().unwrap_or_default();
    if age > app.settings.password_policy.max_age {
        return Err(ApiError::forbidden("password_expired", "the password has expired; set a new one"));
    }
    record_own(&app, id, &user, UserCommand::RecordLogin, &request, device_id.as_ref()).await?;
    let (session, refresh_token) = session::open(&app.pool, Some(id), device_id.as_ref()).await?;
    metrics::counter!("logins_total", "outcome" => "succeeded").increment(1);
    Ok(HttpResponse::Ok().json(tokens(&app, session, refresh_token, format!("user:{id}")).await?))
}

#[utoipa::path(tag = "auth", request_body = DeviceCredentials, security(()), responses(
    (status = 200, body = Tokens, description = "The device is signed in"),
    (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)))]
#[post("/device")]
async fn device_login(app: web::Data<AppState>, body: Json<DeviceCredentials>) -> Result<HttpResponse, ApiError> {
    let id = body.value.device_id.clone();
    check_device(&app, body.value).await?;
    let (session, refresh_token) = session::open(&app.pool, None, Some(&id)).await?;
    Ok(HttpResponse::Ok().json(tokens(&app, session, refresh_token, format!("device:{id}")).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Refresh {
    pub refresh_token: String,
}

#[utoipa::path(tag = "auth", request_body = Refresh, security(()), responses(
    (status = 200, body = Tokens, description = "A new access token for the same session"),
    (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)))]
#[post("/refresh")]
async fn refresh(app: web::Data<AppState>, body: Json<Refresh>) -> Result<HttpResponse, ApiError> {
    let token = body.value.refresh_token;
    let session = match session::by_refresh_token(&app.pool, &token, app.settings.session_idle_timeout).await? {
        None => return Err(ApiError::unauthorized("invalid_token", "the refresh token is not valid")),
        Some(Err(unusable)) => return Err(unusable.into()),
        Some(Ok(session)) => session,
    };
    let subject = match (&session.user_id, &session.device_id) {
        (Some(user), _) => format!("user:{user}"),
        (None, Some(device)) => format!("device:{device}"),
        (None, None) => return Err(Unusable::Ended.into()),
    };
    Ok(HttpResponse::Ok().json(tokens(&app, session.id, token, subject).await?))
}

#[utoipa::path(tag = "auth", responses(
    (status = 204, description = "Signed out; the session has ended"),
    (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)))]
#[post("/logout")]
async fn logout(
    app: web::Data<AppState>,
    request: HttpRequest,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    if session::end(&app.pool, &app.sessions, principal.session, "logout").await?
        && let Who::Person { id, .. } = &principal.who
    {
        let user = app.users.state(&id.to_string()).await?;
        record_own(&app, *id, &user, UserCommand::RecordLogout, &request, principal.device.as_ref()).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Who the session belongs to, for a client to show and to choose what to offer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// `person` or `device`.
    pub kind: &'static str,
    /// The person's user id, or the device id.
    pub id: String,
    /// The printed name, or the device's name.
    pub name: String,
    /// The kind of device, for a device.
    #[schema(value_type = Option<String>)]
    pub device_kind: Option<domain::device::DeviceKind>,
    /// The enrolled device a person signed in on, if any.
    #[schema(value_type = Option<String>)]
    pub device: Option<DeviceId>,
    /// What the session may do where: a person's grants; a gateway's or display's one role and scope.
    pub grants: Vec<RoleGrant>,
    /// A person's session ends after this many seconds without a request; a device's does not.
    pub session_idle_seconds: Option<u64>,
}

#[utoipa::path(tag = "auth", responses(
    (status = 200, body = Me), (status = 401, body = ErrorBody), (status = 503, body = ErrorBody)))]
#[get("/me")]
async fn me(app: web::Data<AppState>, principal: Principal) -> HttpResponse {
    let idle = app.settings.session_idle_timeout.as_secs();
    let answer = match principal.who {
        Who::Person { id, printed_name, grants } => Me {
            kind: "person",
            id: id.to_string(),
            name: printed_name.to_string(),
            device_kind: None,
            device: principal.device,
            grants,
            session_idle_seconds: Some(idle),
        },
        Who::Device { id, name, kind, scope } => {
            let role = crate::auth::access::device_role(kind);
            Me {
                kind: "device",
                id: id.to_string(),
                name: name.to_string(),
                device_kind: Some(kind),
                device: None,
                grants: role.map(|role| RoleGrant { role, scope }).into_iter().collect(),
                session_idle_seconds: None,
            }
        }
    };
    HttpResponse::Ok().json(answer)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub username: String,
    pub current_password: String,
    pub new_password: String,
}

#[utoipa::path(tag = "auth", request_body = ChangePassword, security(()), responses(
    (status = 204, description = "The password is changed; sign in with it"),
    (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "The new password breaks the policy"),
    (status = 503, body = ErrorBody)))]
#[post("/password")]
async fn change_password(
    app: web::Data<AppState>,
    request: HttpRequest,
    body: Json<ChangePassword>,
) -> Result<HttpResponse, ApiError> {
    let ChangePassword { username, current_password, new_password } = body.value;
    let (id, user, _) = check_password(&app, &request, &username, current_password, None).await?;
    let hash = new_password_hash(&app, Some(id), &username, &new_password).await?;
    credentials::replace(&app.pool, id, &hash, false).await?;
    record_own(&app, id, &user, UserCommand::RecordPasswordChange, &request, None).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Bootstrap {
    /// The one-time bootstrap token the service was started with.
    pub token: String,
    #[schema(value_type = String)]
    pub username: Username,
    #[schema(value_type = String)]
    pub printed_name: Name,
    pub password: String,
    /// The site the administrator administers.
    #[schema(value_type = String)]
    pub site: SiteId,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Created {
    pub id: String,
    pub version: u64,
}

#[utoipa::path(tag = "auth", request_body = Bootstrap, security(()), responses(
    (status = 201, body = Created, description = "The first administrator exists"),
    (status = 400, body = ErrorBody), (status = 403, body = ErrorBody, description = "Wrong token, or not enabled"),
    (status = 409, body = ErrorBody, description = "Accounts exist already"), (status = 422, body = ErrorBody),
    (status = 503, body = ErrorBody)))]
#[post("/api/v1/bootstrap")]
async fn bootstrap(
    app: web::Data<AppState>,
    request: HttpRequest,
    body: Json<Bootstrap>,
) -> Result<HttpResponse, ApiError> {
    let Bootstrap { token, username, printed_name, password, site } = body.value;
    let expected = app.settings.bootstrap_token.as_deref().map(|t| Sha256::digest(t.as_bytes()));
    if expected.is_none_or(|expected| expected != Sha256::digest(token.as_bytes())) {
        return Err(ApiError::forbidden("bootstrap_refused", "bootstrap is not enabled or the token is wrong"));
    }
    let hash = new_password_hash(&app, None, username.as_str(), &password).await?;
    let id = UserId::from_uuid(Uuid::now_v7());
    let grants = vec![RoleGrant { role: Role::Admin, scope: Scope::Site { site } }];
    let actor = Actor { user_id: id, printed_name: printed_name.clone(), role: Role::Admin };
    // The administrator chose this password themselves, unlike one an administrator sets for others.
    let secret = NewSecret::Person { user: id, username: username.to_string(), hash, must_change: false, first: true };
    let create = UserCommand::Create {
        username,
        printed_name,
        grants,
        segregation_of_duties: app.settings.segregation_of_duties,
    };
    let (users, context) = (app.clone(), context(actor, &request, None));
    let append = async move { Ok(commands::execute(&users.users, &id.to_string(), create, &context).await?) };
    let outcome = credentials::create_account(app.pool.clone(), secret, append).await?;
    tracing::info!(user = %id, "the first administrator was created");
    Ok(HttpResponse::build(StatusCode::CREATED).json(Created { id: id.to_string(), version: outcome.version }))
}
