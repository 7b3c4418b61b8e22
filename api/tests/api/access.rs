//! The role x endpoint matrix (Part 11 AC-03): every role calls every endpoint on records of its line,
//! and is either let through (any answer but 401/403) or refused with 403; a role scoped to another line
//! is refused. The OpenAPI document lists exactly the endpoints of the matrix.

use std::collections::BTreeSet;

use serde_json::json;

use crate::catalogue::{Access, EVERY_ROLE, Endpoint, call, endpoints, none, setup};
use crate::support::{LINE, OTHER_LINE, spawn, test_settings};

#[tokio::test]
async fn ac_03_ac_01_every_role_and_a_read_only_display_is_allowed_or_refused_every_endpoint_as_specified() {
    let app = spawn(test_settings()).await;
    let (tokens, fixture, outsider) = setup(&app).await;
    let mut wrong = Vec::new();
    for endpoint in endpoints() {
        let Access::Roles(allowed) = endpoint.access else { continue };
        let anonymous = call(&app, &endpoint, &fixture, None).await;
        if anonymous.status != 401 {
            wrong.push(format!("{} {} without a token: {}", endpoint.method, endpoint.path, anonymous.status));
        }
        // Refusals first: an allowed call may change the record (end a stop, deactivate a user).
        let (permitted, refused): (Vec<&str>, Vec<&str>) = EVERY_ROLE.iter().partition(|role| allowed.contains(role));
        for role in refused.into_iter().chain(permitted) {
            let response = call(&app, &endpoint, &fixture, Some(&tokens[role])).await;
            // A signature's own credentials are asked for after the role check passed.
            let let_through = !matches!(response.status, 401 | 403) || response.code() == "username_required";
            if let_through != allowed.contains(&role) || (!let_through && response.status != 403) {
                wrong.push(format!(
                    "{} {} as {role}: {} {}",
                    endpoint.method, endpoint.path, response.status, response.body
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "access differs from the matrix:\n{}", wrong.join("\n"));

    // A role on another line is refused on this line's records.
    let start =
        Endpoint { method: "POST", path: "/api/v1/jobs/{job_id}/pause", access: Access::Roles(&[]), body: none };
    let response = call(&app, &start, &fixture, Some(&outsider)).await.expect(403);
    assert_eq!(response.code(), "out_of_scope");
    let raise = app
        .post(
            Some(&outsider),
            "/api/v1/andon-calls",
            &json!({"line": LINE, "station": "S1",
        "call_type": "other", "priority": "low", "description": "x"}),
        )
        .await
        .expect(403);
    assert_eq!(raise.code(), "out_of_scope");
    // A display shows the boards of its own scope only.
    let display = json!({"kind": "line", "line": OTHER_LINE});
    let (_, elsewhere) = app.device(&tokens[crate::catalogue::ADMIN], ("tv-l4", "TV L4"), "display", display).await;
    let board = app.get(Some(&elsewhere), &format!("/api/v1/lines/{LINE}/status")).await.expect(403);
    assert_eq!(board.code(), "out_of_scope");
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_endpoints_of_the_matrix_and_the_docs_page_is_served() {
    let app = spawn(test_settings()).await;
    let document = app.get(None, "/api/v1/openapi.json").await.expect(200).body;
    assert!(document["openapi"].as_str().is_some_and(|version| version.starts_with("3.")));
    let mut documented = BTreeSet::new();
    for (path, operations) in document["paths"].as_object().cloned().unwrap_or_default() {
        for method in operations.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default() {
            documented.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let listed: BTreeSet<String> = endpoints().iter().map(|e| format!("{} {}", e.method, e.path)).collect();
    assert_eq!(documented, listed);

    let docs = app.send(app.client.get(app.url("/api/v1/docs/"))).await;
    assert_eq!(docs.status, 200);
    assert!(docs.body.as_str().is_some_and(|html| html.contains("swagger-ui")), "the docs page is Swagger UI");
    let script = app.send(app.client.get(app.url("/api/v1/docs/swagger-ui-bundle.js"))).await;
    assert_eq!(script.status, 200, "the viewer's scripts are served by the binary, not a CDN");
}

#[tokio::test]
async fn signing_out_needs_a_session() {
    let app = spawn(test_settings()).await;
    let anonymous = app.send(app.client.post(app.url("/api/v1/auth/logout"))).await;
    assert_eq!(anonymous.status, 401);
    let endpoints = endpoints();
    assert!(endpoints.iter().any(|e| e.path == "/api/v1/auth/logout" && matches!(e.access, Access::AnySession)));
}

/// Where `value` (at `path`) is an object schema that says nothing of its fields.
fn untyped_objects(value: &serde_json::Value, path: &str, found: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(fields) => {
            let is_object = fields.get("type").is_some_and(|kind| {
                kind == "object" || kind.as_array().is_some_and(|kinds| kinds.iter().any(|k| k == "object"))
            });
            let described = ["properties", "additionalProperties", "oneOf", "allOf", "anyOf", "$ref"]
                .iter()
                .any(|key| fields.contains_key(*key));
            if is_object && !described {
                found.push(path.to_owned());
            }
            for (key, inner) in fields {
                untyped_objects(inner, &format!("{path}/{key}"), found);
            }
        }
        serde_json::Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                untyped_objects(inner, &format!("{path}/{index}"), found);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn the_openapi_document_types_every_answer_and_describes_every_stored_event_type() {
    let app = spawn(test_settings()).await;
    let document = app.get(None, "/api/v1/openapi.json").await.expect(200).body;
    let mut untyped = Vec::new();
    untyped_objects(&document, "", &mut untyped);
    assert_eq!(untyped, Vec::<String>::new(), "objects without a described shape");

    let payloads = document["components"]["schemas"]["EventPayload"]["oneOf"].as_array().cloned().unwrap_or_default();
    let described: BTreeSet<&str> = payloads.iter().filter_map(|payload| payload["title"].as_str()).collect();
    let pinned = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../domain/tests/domain/persisted_names.txt"));
    let stored: BTreeSet<&str> =
        pinned.lines().filter_map(|line| line.split_once(": ")).flat_map(|(_, events)| events.split(", ")).collect();
    assert_eq!(described, stored, "one payload shape per persisted event type");
    assert_eq!(payloads.len(), stored.len());
}
