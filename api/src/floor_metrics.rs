//! The floor in `/metrics`, per line, for the production and Andon dashboards and the gateway alert
//! (docs/monitoring.md): each line's state, the running shift's OEE figures and units, its open Andon
//! calls, and when it last got a count. Read at scrape time from the kept boards
//! (`projections::live::line_status`, read again only after a commit that names the line) and one
//! query for the last counts, so a scrape costs little while nothing changes. Between shifts the
//! shift's figures are NaN (no value), never the last shift's.

use chrono::{DateTime, Utc};
use domain::oee::{OeeFigures, OeeInputs, Ratio};
use projections::live::line_status::Staleness;

use crate::state::AppState;

pub async fn record(app: &AppState) -> Result<(), sqlx::Error> {
    let now = Utc::now();
    let lines: Vec<(String, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT l.line, (SELECT max(c.made_at) FROM read_oee_counts c WHERE c.line = l.line)
         FROM read_oee_lines l ORDER BY l.line",
    )
    .fetch_all(&app.pool)
    .await?;
    for (line, last_count) in lines {
        let status = app.boards.status(&app.pool, &line, now, Staleness::WhileReadAgain).await?;
        let gauge = |name: &'static str, value: f64| metrics::gauge!(name, "line" => line.clone()).set(value);
        gauge("line_running", flag(status.state == "running"));
        gauge("line_stopped", flag(status.state == "stopped"));
        gauge("line_in_shift", flag(status.shift_oee.is_some()));
        gauge("line_last_count_timestamp_seconds", last_count.map_or(f64::NAN, |at| at.timestamp() as f64));

        let figures = status.shift_oee.as_ref().map(|period| (&period.oee.figures, &period.oee.inputs));
        let ratio = |pick: fn(&OeeFigures) -> Option<Ratio>| {
            figures.and_then(|(figures, _)| pick(figures)).map_or(f64::NAN, fraction)
        };
        for (figure, value) in [
            ("oee", ratio(|f| f.oee)),
            ("availability", ratio(|f| f.availability)),
            ("performance", ratio(|f| f.performance)),
            ("quality", ratio(|f| f.quality)),
        ] {
            metrics::gauge!("line_shift_ratio", "line" => line.clone(), "figure" => figure).set(value);
        }
        let units = |count: fn(&OeeInputs) -> u64| figures.map_or(f64::NAN, |(_, inputs)| count(inputs) as f64);
        metrics::gauge!("line_shift_units", "line" => line.clone(), "kind" => "good").set(units(|i| i.good_count));
        metrics::gauge!("line_shift_units", "line" => line.clone(), "kind" => "reject")
            .set(units(|i| i.total_count.saturating_sub(i.good_count)));

        let unanswered: Vec<_> = status.open_calls.iter().filter(|call| call.acknowledged_at.is_none()).collect();
        gauge("andon_calls_open", status.open_calls.len() as f64);
        gauge("andon_calls_unacknowledged", unanswered.len() as f64);
        let oldest = unanswered.iter().map(|call| (now - call.raised_at).num_milliseconds()).max().unwrap_or(0);
        gauge("andon_oldest_unacknowledged_seconds", oldest.max(0) as f64 / 1000.0);
    }
    Ok(())
}

fn flag(on: bool) -> f64 {
    if on { 1.0 } else { 0.0 }
}

/// A ratio as a fraction (1 is 100 %), to the basis point it is kept in.
fn fraction(ratio: Ratio) -> f64 {
    ratio.basis_points() as f64 / 10_000.0
}
