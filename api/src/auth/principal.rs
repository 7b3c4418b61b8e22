//! The authenticated principal of a request: a person (possibly on an enrolled tablet) or a PLC gateway.
//! Extracted from the bearer token and its session; every event's actor comes from here, never from a
//! request body.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use domain::actor::{Actor, UserId};
use domain::device::{Device, DeviceKind};
use domain::scope::Scope;
use domain::user::{RoleGrant, User, UserCommand};
use domain::values::{DeviceId, Name};
use uuid::Uuid;

use super::session::{self, Unusable};
use crate::error::{ApiError, internal};
use crate::state::AppState;

#[derive(Debug, Clone)]
pub struct Principal {
    pub session: Uuid,
    pub who: Who,
    /// The enrolled device the request comes from: the tablet a person signed in on, or the gateway.
    pub device: Option<DeviceId>,
}

#[derive(Debug, Clone)]
pub enum Who {
    Person { id: UserId, printed_name: Name, grants: Vec<RoleGrant> },
    Device { id: DeviceId, name: Name, kind: DeviceKind, scope: Scope },
}

impl Principal {
    /// A stable key for what this principal did (idempotency records are per principal).
    pub fn key(&self) -> String {
        match &self.who {
            Who::Person { id, .. } => format!("user:{id}"),
            Who::Device { id, .. } => format!("device:{id}"),
        }
    }
}

/// The actor for what a person does to their own account (sign-in, sign-out, password change): their
/// first grant's role. `None` for an account without roles, which may not sign in.
pub fn self_actor(id: UserId, user: &User) -> Option<Actor> {
    let printed_name = user.printed_name.clone()?;
    user.grants.first().map(|grant| Actor { user_id: id, printed_name, role: grant.role })
}

/// The attribution of what a person does to their own account, from this request and device.
pub fn context(actor: Actor, request: &HttpRequest, device: Option<&DeviceId>) -> commands::CommandContext {
    let mut context = commands::CommandContext::new(actor);
    context.correlation_id = crate::telemetry::request_id(request);
    context.device_id = device.cloned();
    context
}

/// Records an account event the person causes themselves (sign-in, failure, password change).
pub async fn record_own(
    app: &AppState,
    id: UserId,
    user: &User,
    command: UserCommand,
    request: &HttpRequest,
    device: Option<&DeviceId>,
) -> Result<(), ApiError> {
    let actor = self_actor(id, user).ok_or_else(|| ApiError::forbidden("no_roles", "the account holds no role"))?;
    commands::execute(&app.users, &id.to_string(), command, &context(actor, request, device)).await?;
    Ok(())
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let app = request.app_data::<web::Data<AppState>>().cloned();
        let token = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::to_owned);
        let correlation = crate::telemetry::request_id(request);
        Box::pin(async move {
            let app = app.ok_or_else(|| internal(&std::io::Error::other("application state missing")))?;
            let token =
                token.ok_or_else(|| ApiError::unauthorized("unauthenticated", "sign in and send a bearer token"))?;
            let claims = app.keys().await?.decode(&token)?;
            authenticate(&app, claims.sid, correlation).await
        })
    }
}

async fn authenticate(app: &AppState, session_id: Uuid, correlation: Uuid) -> Result<Principal, ApiError> {
    let session = match session::check(&app.pool, &app.sessions, session_id, app.settings.session_idle_timeout).await? {
        Ok(session) => session,
        Err(Unusable::TimedOut) => {
            if let Some(user) = session::user_of(&app.pool, session_id).await? {
                record_timeout(app, user, correlation).await;
            }
            return Err(Unusable::TimedOut.into());
        }
        Err(unusable) => return Err(unusable.into()),
    };
    let device = match &session.device_id {
        Some(raw) => {
            let id = DeviceId::parse(raw).map_err(|e| internal(&e))?;
            Some((app.devices.state(raw).await?, id))
        }
        None => None,
    };
    if let Some((state, _)) = &device
        && state.revoked
    {
        return Err(ApiError::unauthorized("device_revoked", "the device's enrolment has been revoked"));
    }
    match (session.user_id, device) {
        (Some(user_id), device) => {
            let id = UserId::from_uuid(user_id);
            let user = app.users.state(&id.to_string()).await?;
            if !user.may_act() {
                return Err(ApiError::unauthorized("account_disabled", "the account is locked or deactivated"));
            }
            let printed_name =
                user.printed_name.ok_or_else(|| ApiError::unauthorized("unauthenticated", "unknown account"))?;
            let who = Who::Person { id, printed_name, grants: user.grants };
            Ok(Principal { session: session.id, who, device: device.map(|(_, id)| id) })
        }
        (None, Some((Device { name: Some(name), enrolled: Some((kind, scope)), .. }, id))) => {
            let who = Who::Device { id: id.clone(), name, kind, scope };
            Ok(Principal { session: session.id, who, device: Some(id) })
        }
        (None, _) => Err(ApiError::unauthorized("unauthenticated", "the session has no principal")),
    }
}

/// Records that a user's session ended by inactivity (Part 11 AT-07). Losing this record must not turn
/// the client's 401 into a 500, so a failure is logged.
async fn record_timeout(app: &AppState, id: UserId, correlation: Uuid) {
    let Ok(user) = app.users.state(&id.to_string()).await else { return };
    let Some(actor) = self_actor(id, &user) else { return };
    let mut context = commands::CommandContext::new(actor);
    context.correlation_id = correlation;
    if let Err(error) =
        commands::execute(&app.users, &id.to_string(), UserCommand::RecordSessionTimeout, &context).await
    {
        tracing::error!(%error, user = %id, "could not record a session timeout");
    }
}
