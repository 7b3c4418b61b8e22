//! OEE figures of a line per hour, shift occurrence or day, and roll-ups of an area or a site. Figures
//! are formed when asked from the OEE read model (`domain::oee` conventions): open stops count up to
//! the time of the request and make a period `provisional`.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use domain::line_id::LineId;
use domain::oee::roll_up_windows;
use domain::values::{AreaId, SiteId};
use projections::read_models::oee::Oee;
use projections::read_models::oee::changeovers::{self as changeover, Changeover, PairAverage};
use projections::read_models::oee::query::{Granularity, line_oee};

use crate::oee_view::{LineOeeView, WindowView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::query_call::{Freshness, QueryCall, QueryErrors, RecordNotFound, bounded_range};

pub fn configure(config: &mut utoipa_actix_web::service_config::ServiceConfig) {
    config.service(utoipa_actix_web::scope("/api/v1/oee").service(of_line).service(roll_up).service(of_changeovers));
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Periods {
    Hour,
    Shift,
    Day,
    Week,
    Month,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LineOeeQuery {
    #[param(value_type = String, example = "plant-1/packing/L3")]
    pub line: LineId,
    /// `hour` (the line's local clock hours), `shift` (shift occurrences), `day`, `week` (Monday to
    /// Sunday) or `month` (the shifts that start on its local dates, summed, over its whole local time
    /// within the range).
    #[param(value_type = String, example = "shift")]
    pub granularity: Periods,
    /// Periods that start at or after this time; default: 24 hours before `to`.
    pub from: Option<DateTime<Utc>>,
    /// Periods that start before this time; default: now. At most 92 days after `from`.
    pub to: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineOeeAnswer {
    pub freshness: Freshness,
    /// As of this time: open stops count up to it, a running period is measured up to it.
    pub as_of: DateTime<Utc>,
    /// `periods` (each with `oee`: inputs in integer ms and counts, `figures` as exact ratios with a
    /// display `percent`, `null` where undefined; `performance_above_ideal`; downtime by loss category,
    /// `unassigned` while a stop has no reason; `provisional` while an open stop counts) and their `total`.
    /// `null` for a registered line the read model has not reached yet (compare `freshness`).
    pub oee: Option<LineOeeView>,
}

/// OEE of one line per period, following docs/oee.md: planned production time is the shift calendar's
/// scheduled time less breaks and less stops booked to a planned category; only stops of the whole line
/// (no equipment) count as downtime; units are priced with the ideal cycle time in force when made.
#[utoipa::path(tag = "oee", params(LineOeeQuery), responses(
    (status = 200, body = LineOeeAnswer), QueryErrors, RecordNotFound))]
#[get("")]
async fn of_line(call: QueryCall, query: web::Query<LineOeeQuery>) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let range = bounded_range(query.from, query.to)?;
    let freshness = call.line::<Oee>(&query.line).await?;
    let as_of = Utc::now();
    let granularity = match query.granularity {
        Periods::Hour => Granularity::Hour,
        Periods::Shift => Granularity::Shift,
        Periods::Day => Granularity::Day,
        Periods::Week => Granularity::Week,
        Periods::Month => Granularity::Month,
    };
    call.registered(&query.line).await?;
    let oee = line_oee(call.reads(), &query.line.to_string(), range, granularity, as_of).await?;
    Ok(HttpResponse::Ok().json(LineOeeAnswer { freshness, as_of, oee: oee.map(LineOeeView::from) }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RollUpQuery {
    #[param(value_type = String, example = "plant-1")]
    pub site: SiteId,
    /// One area of the site; the whole site when absent.
    #[param(value_type = Option<String>, example = "packing")]
    pub area: Option<AreaId>,
    /// Shift occurrences that start at or after this time; default: 24 hours before `to`.
    pub from: Option<DateTime<Utc>>,
    /// Shift occurrences that start before this time; default: now. At most 92 days after `from`.
    pub to: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LineTotal {
    pub line: String,
    pub oee: WindowView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RollUp {
    pub freshness: Freshness,
    pub as_of: DateTime<Utc>,
    /// Each line's shift occurrences in the period, summed.
    pub lines: Vec<LineTotal>,
    /// The lines summed: times and weighted counts add up; percentages are never averaged.
    pub total: WindowView,
}

/// OEE of an area or a site over the shift occurrences that start in a period: the sum of its lines.
/// Reading an area needs every one of its lines; reading a site needs the site.
#[utoipa::path(tag = "oee", params(RollUpQuery), responses(
    (status = 200, body = RollUp), QueryErrors))]
#[get("/roll-up")]
async fn roll_up(call: QueryCall, query: web::Query<RollUpQuery>) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let range = bounded_range(query.from, query.to)?;
    let lines = call.readable_lines(crate::auth::access::READ_RECORDS, &query.site, query.area.as_ref()).await?;
    let (freshness, as_of) = (call.freshness::<Oee>().await?, Utc::now());
    let mut totals = Vec::with_capacity(lines.len());
    for line in lines {
        if let Some(oee) = line_oee(call.reads(), &line.to_string(), range, Granularity::Shift, as_of).await? {
            totals.push((oee.line, oee.total));
        }
    }
    let total = roll_up_windows(totals.iter().map(|(_, oee)| oee)).into();
    let lines = totals.into_iter().map(|(line, oee)| LineTotal { line, oee: oee.into() }).collect();
    Ok(HttpResponse::Ok().json(RollUp { freshness, as_of, lines, total }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChangeoverQuery {
    #[param(value_type = String, example = "plant-1/packing/L3")]
    pub line: LineId,
    /// Changeovers that start at or after this time; default: 24 hours before `to`.
    pub from: Option<DateTime<Utc>>,
    /// Changeovers that start before this time; default: now. At most 92 days after `from`.
    pub to: Option<DateTime<Utc>>,
}

/// A whole-line stop booked to a setup reason, between two products.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeoverView {
    pub downtime_id: String,
    pub reason: Option<String>,
    pub started_at: DateTime<Utc>,
    /// `null` while the changeover goes on.
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<u64>,
    /// The product of the last units counted before it; `null` when nothing was made before.
    pub from_product: Option<String>,
    /// The product of the first units counted after it; `null` until something is made.
    pub to_product: Option<String>,
}

impl From<Changeover> for ChangeoverView {
    fn from(c: Changeover) -> Self {
        let Changeover { downtime_id, reason, started_at, ended_at, duration_ms, from_product, to_product } = c;
        Self { downtime_id, reason, started_at, ended_at, duration_ms, from_product, to_product }
    }
}

/// The ended changeovers from one product to another.
#[derive(Debug, Serialize, ToSchema)]
pub struct PairView {
    pub from_product: Option<String>,
    pub to_product: Option<String>,
    pub changeovers: u64,
    pub total_ms: u64,
    /// `total_ms / changeovers`, rounded down to the millisecond.
    pub average_ms: u64,
}

impl From<PairAverage> for PairView {
    fn from(pair: PairAverage) -> Self {
        let PairAverage { from_product, to_product, changeovers: count, total_ms, average_ms } = pair;
        Self { from_product, to_product, changeovers: count, total_ms, average_ms }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Changeovers {
    pub freshness: Freshness,
    pub changeovers: Vec<ChangeoverView>,
    /// The ended ones, per pair of products.
    pub pairs: Vec<PairView>,
}

/// A line's changeovers in a period, each attributed to the product it came from and the one it went
/// to, and the average changeover time per pair of products.
#[utoipa::path(tag = "oee", params(ChangeoverQuery), responses(
    (status = 200, body = Changeovers), QueryErrors, RecordNotFound))]
#[get("/changeovers")]
async fn of_changeovers(call: QueryCall, query: web::Query<ChangeoverQuery>) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let range = bounded_range(query.from, query.to)?;
    let freshness = call.line::<Oee>(&query.line).await?;
    call.registered(&query.line).await?;
    let found = changeover::changeovers(call.reads(), &query.line.to_string(), range).await?;
    let pairs = changeover::per_pair(&found).into_iter().map(PairView::from).collect();
    let changeovers = found.into_iter().map(ChangeoverView::from).collect();
    Ok(HttpResponse::Ok().json(Changeovers { freshness, changeovers, pairs }))
}
