//! Enrolled devices (Part 11 AC-09): tablets people sign in on and PLC gateways that act themselves.
//! Enrolment returns the device's secret once; only its hash is kept.

use actix_web::{HttpResponse, get, post, web};
use domain::device::{Device, DeviceCommand, DeviceKind};
use domain::scope::Scope;
use domain::values::{DeviceId, Name};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::access::{ADMINISTER, READ_ACCOUNTS};
use crate::auth::credentials::{self, NewSecret};
use crate::auth::password::{self, random_secret};
use crate::auth::{Target, authorize, session};
use crate::bodies::WithReason;
use crate::command_call::{CommandAccepted, CommandCall, CommandResponses, Reply, command_accepted};
use crate::error::{ApiError, ErrorBody};
use crate::json::Json;
use crate::query_call::{QueryCall, QueryErrors, RecordNotFound};
use crate::views::states::DeviceView;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    // A scope per kind of record: the router then tries only this module's patterns.
    config.service(utoipa_actix_web::scope("/api/v1/devices").service(enroll).service(read).service(revoke));
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollDevice {
    #[schema(value_type = String, example = "gw-L3")]
    pub device_id: DeviceId,
    #[schema(value_type = String)]
    pub name: Name,
    #[schema(value_type = String, example = "plc_gateway")]
    pub kind: DeviceKind,
    /// Where the device may act: `{"kind": "line", "line": "plant-1/packing/L3"}` or a site.
    #[schema(value_type = crate::bodies::shapes::Scope)]
    pub scope: Scope,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Enrolled {
    #[serde(flatten)]
    pub accepted: CommandAccepted,
    /// The device's secret, shown this once: configure it on the device.
    pub secret: String,
}

#[utoipa::path(tag = "devices", request_body = EnrollDevice, responses(
    (status = 201, body = Enrolled, description = "Enrolled; the secret is shown once"),
    (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
#[post("")]
async fn enroll(call: CommandCall, body: Json<EnrollDevice>) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond_created(digest, async {
        let actor = call.authorize(ADMINISTER, Target::Scope(&value.scope))?;
        let secret = random_secret();
        let hash = password::hash(secret.clone()).await?;
        let id = value.device_id.as_str().to_owned();
        let command = DeviceCommand::Enroll { name: value.name, kind: value.kind, scope: value.scope };
        let (app, context) = (call.app.clone(), call.context(actor));
        let device = id.clone();
        let append = async move { Ok(commands::execute(&app.devices, &device, command, &context).await?) };
        let stored = NewSecret::Device { device: id.clone(), hash };
        let outcome = credentials::create_account(call.app.pool.clone(), stored, append).await?;
        let accepted = command_accepted::<Device>(&id, outcome);
        Ok(Reply::new(actix_web::http::StatusCode::CREATED, &Enrolled { accepted, secret }))
    })
    .await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceRecord {
    pub device_id: String,
    pub version: u64,
    pub state: DeviceView,
}

#[utoipa::path(tag = "devices", responses(
    (status = 200, body = DeviceRecord), QueryErrors, RecordNotFound))]
#[get("/{device_id}")]
async fn read(call: QueryCall, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    authorize(&call.principal, READ_ACCOUNTS, Target::Anywhere)?;
    match call.app.devices.state_and_version(&path).await? {
        (_, 0) => Err(ApiError::not_found("device", &path)),
        (state, version) => Ok(HttpResponse::Ok().json(DeviceRecord {
            device_id: path.into_inner(),
            version,
            state: DeviceView::from(state),
        })),
    }
}

#[utoipa::path(tag = "devices", request_body = WithReason, responses(CommandResponses))]
#[post("/{device_id}/revoke")]
async fn revoke(call: CommandCall, path: web::Path<String>, body: Json<WithReason>) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond(digest, async {
        let device = call.existing(&call.app.devices, "device", &path).await?;
        let scope =
            device.enrolled.as_ref().map(|(_, scope)| scope).ok_or_else(|| ApiError::not_found("device", &path))?;
        let actor = call.authorize(ADMINISTER, Target::Scope(scope))?;
        let reply =
            call.execute(&call.app.devices, &path, DeviceCommand::Revoke { reason: value.reason }, actor).await?;
        let id = DeviceId::parse(&path).map_err(|e| crate::error::internal(&e))?;
        session::end_all_of_device(&call.app.pool, &call.app.sessions, &id, "device revoked").await?;
        Ok(reply)
    })
    .await
}
