//! Checklist templates (versioned, per line and optionally product) and the checklists worked from them.

use actix_web::{HttpResponse, post, web};
use commands::lookups;
use domain::checklist::{Answer, ChecklistCommand, ChecklistTemplateCommand, TemplateItem};
use domain::line_id::LineId;
use domain::values::{ChecklistItemId, Name, ProductId, Reason};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Target;
use crate::auth::access::{DEFINE_CHECKLISTS, WORK_CHECKLISTS};
use crate::command_call::{CommandCall, CommandResponses, Located, Reply, accepted};
use crate::error::ApiError;
use crate::json::Json;

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    let checklists = utoipa_actix_web::scope("/api/v1/checklists").service(start).service(answer);
    config.service(define_template).service(checklists);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DefineTemplate {
    #[schema(value_type = String, example = "plant-1/packing/L3")]
    pub line: LineId,
    #[schema(value_type = Option<String>)]
    pub product: Option<ProductId>,
    #[schema(value_type = String)]
    pub name: Name,
    /// `[{"id": "guard", "prompt": "Guard closed", "kind": {"kind": "check"}, "mandatory": true}]`
    #[schema(value_type = Vec<crate::bodies::shapes::TemplateItem>)]
    pub items: Vec<TemplateItem>,
    /// Needed for every version after the first.
    #[schema(value_type = Option<String>)]
    pub reason: Option<Reason>,
}

#[utoipa::path(tag = "checklists", request_body = DefineTemplate, responses(CommandResponses))]
#[post("/api/v1/checklist-templates/{template_id}")]
async fn define_template(
    call: CommandCall,
    path: web::Path<String>,
    body: Json<DefineTemplate>,
) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond(digest, async {
        let id = domain::values::TemplateId::parse(&path)
            .map_err(|error| ApiError::bad_request("invalid_path", error.to_string()))?;
        let (existing, _) = call.app.templates.state_and_version(id.as_str()).await?;
        // A new version stays on the template's line; the domain refuses a move.
        let line = existing.line().cloned().unwrap_or_else(|| value.line.clone());
        let actor = call.authorize(DEFINE_CHECKLISTS, Target::Line(&line))?;
        call.registered_line(&value.line).await?;
        let command = ChecklistTemplateCommand::Define {
            line: value.line,
            product: value.product,
            name: value.name,
            items: value.items,
            reason: value.reason,
        };
        call.execute(&call.app.templates, id.as_str(), command, actor).await
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartChecklist {
    /// The checklist's id; chosen by the server when absent.
    pub id: Option<Uuid>,
    pub template_id: String,
    /// The job the checklist belongs to, if any.
    pub job: Option<Uuid>,
}

#[utoipa::path(tag = "checklists", request_body = StartChecklist, responses(CommandResponses))]
#[post("")]
async fn start(call: CommandCall, body: Json<StartChecklist>) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    call.respond_created(digest, async {
        let app = &call.app;
        let template = call.existing(&app.templates, "checklist template", &value.template_id).await?;
        let line = template.line().ok_or_else(|| ApiError::not_found("checklist template", &value.template_id))?;
        let actor = call.authorize(WORK_CHECKLISTS, Target::Line(line))?;
        let id = value.id.unwrap_or_else(Uuid::now_v7).to_string();
        let context = call.context(actor);
        let outcome =
            lookups::start_checklist(&app.templates, &app.checklists, &id, &value.template_id, value.job, &context)
                .await?;
        Ok(accepted::<domain::checklist::Checklist>(&id, outcome))
    })
    .await
}

/// A command on a started checklist, authorised on its template's line.
async fn on_checklist(call: &CommandCall, id: Uuid, command: ChecklistCommand) -> Result<Reply, ApiError> {
    let id = id.to_string();
    let app = &call.app;
    let checklist = call.existing(&app.checklists, "checklist", &id).await?;
    let template_id = checklist.template.as_ref().map(|t| t.template_id.clone()).unwrap_or_default();
    let template = app.templates.state(&template_id).await?;
    let line = template.line().ok_or_else(|| ApiError::not_found("checklist template", &template_id))?;
    let actor = call.authorize(WORK_CHECKLISTS, Target::Line(line))?;
    call.execute(&app.checklists, &id, command, actor).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerItem {
    #[schema(value_type = String)]
    pub item: ChecklistItemId,
    /// `{"kind": "check", "value": true}`, `{"kind": "number", "value": 42}` or `{"kind": "text", "value": "ok"}`.
    #[schema(value_type = crate::bodies::shapes::Answer)]
    pub answer: Answer,
    /// Needed when the item was answered before.
    #[schema(value_type = Option<String>)]
    pub reason: Option<Reason>,
}

#[utoipa::path(tag = "checklists", request_body = AnswerItem, responses(CommandResponses))]
#[post("/{checklist_id}/answers")]
async fn answer(call: CommandCall, path: web::Path<Uuid>, body: Json<AnswerItem>) -> Result<HttpResponse, ApiError> {
    let Json { value, digest } = body;
    let command = ChecklistCommand::Answer { item: value.item, answer: value.answer, reason: value.reason };
    call.respond(digest, on_checklist(&call, *path, command)).await
}
