//! User accounts, administered by administrators (Part 11 AC-01..AC-07): created with an initial password
//! the person must change, roles granted and revoked with a reason, deactivated (never deleted), unlocked,
//! reset, and all sessions revoked at once.

use actix_web::{HttpResponse, get, post, web};
use domain::actor::UserId;
use domain::scope::Scope;
use domain::user::{RoleGrant, User, UserCommand, Username};
use domain::values::{Name, Reason};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::access::{ADMINISTER, READ_ACCOUNTS};
use crate::auth::credentials::new_password_hash;
use crate::auth::credentials::{self, NewSecret};
use crate::auth::{Target, authorize, session};
use crate::bodies::WithReason;
use crate::command_call::{CommandCall, CommandResponses, Reply, accepted};
use crate::error::ApiError;
use crate::json::Json;
use crate::query_call::{QueryCall, QueryErrors, RecordNotFound};
use crate::views::states::UserView;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    // A scope per kind of record: the router then tries only this module's patterns.
    config.service(
        utoipa_actix_web::scope("/api/v1/users")
            .service(create)
            .service(read)
            .service(grant_role)
            .service(revoke_role)
            .service(rename)
            .service(deactivate)
            .service(unlock)
            .service(reset_password)
            .service(revoke_sessions),
    );
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    #[schema(value_type = String, example = "operator")]
    pub role: domain::actor::Role,
    #[schema(value_type = crate::bodies::shapes::Scope)]
    pub scope: Scope,
}

impl From<Grant> for RoleGrant {
    fn from(grant: Grant) -> Self {
        Self { role: grant.role, scope: grant.scope }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[schema(value_type = String, example = "ada.lovelace")]
    pub username: Username,
    #[schema(value_type = String, example = "Ada Lovelace")]
    pub printed_name: Name,
    /// At least one.
    pub grants: Vec<Grant>,
    /// The person must replace it at first sign-in: an administrator never sets a password anyone keeps.
    pub initial_password: String,
}

fn user_id(raw: Uuid) -> String {
    UserId::from_uuid(raw).to_string()
}

#[utoipa::path(tag = "users", request_body = CreateUser, responses(CommandResponses))]
#[post("")]
async fn create(call: CommandCall, body: Json<CreateUser>) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond_created(digest, async {
        if value.grants.is_empty() {
            return Err(ApiError::unprocessable("no_roles", "a user needs at least one role"));
        }
        let grants: Vec<RoleGrant> = value.grants.into_iter().map(RoleGrant::from).collect();
        let mut actor = None;
        for grant in &grants {
            actor = Some(call.authorize(ADMINISTER, Target::Scope(&grant.scope))?);
        }
        let actor = actor.ok_or_else(|| ApiError::unprocessable("no_roles", "a user needs at least one role"))?;
        let app = &call.app;
        let hash = new_password_hash(app, None, value.username.as_str(), &value.initial_password).await?;
        let id = UserId::from_uuid(Uuid::now_v7());
        let username = value.username.to_string();
        let secret = NewSecret::Person { user: id, username, hash, must_change: true, first: false };
        let command = UserCommand::Create {
            username: value.username,
            printed_name: value.printed_name,
            grants,
            segregation_of_duties: app.settings.segregation_of_duties,
        };
        let (users, context) = (app.clone(), call.context(actor));
        let append = async move { Ok(commands::execute(&users.users, &id.to_string(), command, &context).await?) };
        let outcome = credentials::create_account(app.pool.clone(), secret, append).await?;
        Ok(accepted::<User>(&id.to_string(), outcome))
    })
    .await
}

/// An account as administrators and auditors see it; never its credentials.
#[derive(Debug, Serialize, ToSchema)]
pub struct Account {
    pub id: Uuid,
    pub version: u64,
    pub state: UserView,
}

#[utoipa::path(tag = "users", responses(
    (status = 200, body = Account), QueryErrors, RecordNotFound))]
#[get("/{user_id}")]
async fn read(call: QueryCall, path: web::Path<Uuid>) -> Result<HttpResponse, ApiError> {
    authorize(&call.principal, READ_ACCOUNTS, Target::Anywhere)?;
    let id = *path;
    match call.app.users.state_and_version(&user_id(id)).await? {
        (_, 0) => Err(ApiError::not_found("user", &id.to_string())),
        (state, version) => Ok(HttpResponse::Ok().json(Account { id, version, state: UserView::from(state) })),
    }
}

/// A command on an existing account by an administrator.
async fn on_user(
    call: &CommandCall,
    id: Uuid,
    target: Target<'_>,
    make: impl FnOnce(&User) -> Result<UserCommand, ApiError>,
) -> Result<Reply, ApiError> {
    let id = user_id(id);
    let user = call.existing(&call.app.users, "user", &id).await?;
    let actor = call.authorize(ADMINISTER, target)?;
    let command = make(&user)?;
    call.execute(&call.app.users, &id, command, actor).await
}

/// A command that takes authority away. The person's sessions end with it, so that no instance goes on
/// acting on what its warm copy of the account still allows.
async fn on_user_ending_sessions(
    call: &CommandCall,
    id: Uuid,
    target: Target<'_>,
    why: &str,
    make: impl FnOnce(&User) -> Result<UserCommand, ApiError>,
) -> Result<Reply, ApiError> {
    let reply = on_user(call, id, target, make).await?;
    session::end_all_of_user(&call.app.pool, &call.app.sessions, UserId::from_uuid(id), why).await?;
    Ok(reply)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeGrant {
    #[schema(value_type = String, example = "operator")]
    pub role: domain::actor::Role,
    #[schema(value_type = crate::bodies::shapes::Scope)]
    pub scope: Scope,
    #[schema(value_type = String)]
    pub reason: Reason,
}

#[utoipa::path(tag = "users", request_body = ChangeGrant, responses(CommandResponses))]
#[post("/{user_id}/roles/grant")]
async fn grant_role(
    call: CommandCall,
    path: web::Path<Uuid>,
    body: Json<ChangeGrant>,
) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    let segregation_of_duties = call.app.settings.segregation_of_duties;
    call.respond(digest, async {
        let grant = RoleGrant { role: value.role, scope: value.scope };
        let scope = grant.scope.clone();
        on_user(&call, *path, Target::Scope(&scope), |_| {
            Ok(UserCommand::GrantRole { grant, segregation_of_duties, reason: value.reason })
        })
        .await
    })
    .await
}

#[utoipa::path(tag = "users", request_body = ChangeGrant, responses(CommandResponses))]
#[post("/{user_id}/roles/revoke")]
async fn revoke_role(
    call: CommandCall,
    path: web::Path<Uuid>,
    body: Json<ChangeGrant>,
) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond(digest, async {
        let grant = RoleGrant { role: value.role, scope: value.scope };
        let scope = grant.scope.clone();
        on_user_ending_sessions(&call, *path, Target::Scope(&scope), "role revoked", |user| {
            // Every account keeps a role, so that what it does is always attributable to an authority.
            if user.grants.len() == 1 && user.grants.contains(&grant) {
                return Err(ApiError::unprocessable(
                    "last_role",
                    "this is the account's last role; deactivate it instead",
                ));
            }
            Ok(UserCommand::RevokeRole { grant, reason: value.reason })
        })
        .await
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    #[schema(value_type = String)]
    pub printed_name: Name,
    #[schema(value_type = String)]
    pub reason: Reason,
}

#[utoipa::path(tag = "users", request_body = Rename, responses(CommandResponses))]
#[post("/{user_id}/printed-name")]
async fn rename(call: CommandCall, path: web::Path<Uuid>, body: Json<Rename>) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond(digest, async {
        let command = UserCommand::ChangePrintedName { printed_name: value.printed_name, reason: value.reason };
        on_user(&call, *path, Target::Anywhere, |_| Ok(command)).await
    })
    .await
}

#[utoipa::path(tag = "users", request_body = WithReason, responses(CommandResponses))]
#[post("/{user_id}/deactivate")]
async fn deactivate(
    call: CommandCall,
    path: web::Path<Uuid>,
    body: Json<WithReason>,
) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    let command = UserCommand::Deactivate { reason: value.reason };
    call.respond(digest, on_user_ending_sessions(&call, *path, Target::Anywhere, "deactivated", |_| Ok(command))).await
}

#[utoipa::path(tag = "users", request_body = WithReason, responses(CommandResponses))]
#[post("/{user_id}/unlock")]
async fn unlock(call: CommandCall, path: web::Path<Uuid>, body: Json<WithReason>) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond(digest, on_user(&call, *path, Target::Anywhere, |_| Ok(UserCommand::Unlock { reason: value.reason })))
        .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    /// Works for the next sign-in only: the person must then choose their own.
    pub temporary_password: String,
    #[schema(value_type = String)]
    pub reason: Reason,
}

#[utoipa::path(tag = "users", request_body = ResetPassword, responses(CommandResponses))]
#[post("/{user_id}/password-reset")]
async fn reset_password(
    call: CommandCall,
    path: web::Path<Uuid>,
    body: Json<ResetPassword>,
) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond(digest, async {
        let id = UserId::from_uuid(*path);
        let user = call.existing(&call.app.users, "user", &id.to_string()).await?;
        let actor = call.authorize(ADMINISTER, Target::Anywhere)?;
        let username = user.username.as_ref().map(Username::as_str).unwrap_or_default();
        let hash = new_password_hash(&call.app, Some(id), username, &value.temporary_password).await?;
        let reset = UserCommand::ResetPassword { reason: value.reason };
        let reply = call.execute(&call.app.users, &id.to_string(), reset, actor).await?;
        // The event first, then the secret, then the sessions: a sign-in between the last two would
        // otherwise keep a session opened with the old password.
        credentials::replace(&call.app.pool, id, &hash, true).await?;
        session::end_all_of_user(&call.app.pool, &call.app.sessions, id, "password reset").await?;
        Ok(reply)
    })
    .await
}

#[utoipa::path(tag = "users", request_body = WithReason, responses(CommandResponses))]
#[post("/{user_id}/sessions/revoke")]
async fn revoke_sessions(
    call: CommandCall,
    path: web::Path<Uuid>,
    body: Json<WithReason>,
) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    let command = UserCommand::RevokeSessions { reason: value.reason };
    let why = "revoked by an administrator";
    call.respond(digest, on_user_ending_sessions(&call, *path, Target::Anywhere, why, |_| Ok(command))).await
}
