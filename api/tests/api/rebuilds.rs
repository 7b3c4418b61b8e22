//! Blue/green rebuilds over the admin API (Part 11 AT-07, AT-14): requested with a reason, carried out
//! while the service answers, switched once, each step on the read model's record.

use serde_json::{Value, json};

use crate::audit_trail::trail;
use crate::support::{spawn, test_settings};

fn row<'a>(status: &'a Value, name: &str) -> Option<&'a Value> {
    status.as_array()?.iter().find(|row| row["name"] == name)
}

#[tokio::test]
async fn at_07_at_14_an_administrator_rebuilds_a_read_model_with_progress_and_every_step_on_record() {
    let app = spawn(test_settings()).await;
    let _projectors = app.start_projectors();
    let (job, olga) = app.running_job().await;
    app.post(Some(&olga), &format!("/api/v1/jobs/{job}/production"), &json!({"good": 7, "reject": 0}))
        .await
        .expect(200);
    let admin = app.login("admin", crate::support::ADMIN_PASSWORD).await;
    let detail = format!("/api/v1/jobs/{job}");
    let seven = |body: &Value| body["job"]["good"] == 7;
    app.get_until(&olga, &detail, seven).await.expect(200);

    let refused = app.post(Some(&admin), "/api/v1/projections/ledger/rebuild", &json!({"reason": "why not"})).await;
    assert_eq!(refused.expect(404).code(), "not_found", "the ledger is never rebuilt");
    let unreasoned = app.post(Some(&admin), "/api/v1/projections/jobs/rebuild", &json!({})).await;
    assert_eq!(unreasoned.status, 400, "a rebuild needs its reason");

    let started = app.post(Some(&admin), "/api/v1/projections/jobs/rebuild", &json!({"reason": "fixed a fold"})).await;
    assert_eq!(started.expect(202).body["schema"], "green");
    // Progress is the rebuild's row while it runs; done when queries read green and the row is gone (an
    // idle rebuild's row would read as a worker ever further behind).
    let switched = |status: &Value| {
        row(status, "jobs").is_some_and(|jobs| jobs["schema"] == "green") && row(status, "jobs~rebuild").is_none()
    };
    let status = app.get_until(&admin, "/api/v1/projections", switched).await.expect(200).body;
    assert_eq!(row(&status, "jobs").unwrap()["state"], "running");
    // The rebuilt model answers as the old one did: it was switched to only once no further behind.
    assert!(seven(&app.get(Some(&olga), &detail).await.expect(200).body));

    let dropped = app.post(Some(&admin), "/api/v1/projections/jobs/drop-old", &json!({"reason": "space"})).await;
    assert_eq!(dropped.expect(200).body["schema"], "blue");
    let actions = |entries: &[Value]| {
        entries.iter().filter_map(|entry| entry["action"].as_str().map(str::to_owned)).collect::<Vec<_>>()
    };
    let entries = trail(&app, &admin, "/api/v1/audit-trail?record_type=read_model&record_id=jobs", 3).await;
    assert_eq!(actions(&entries), ["RebuildRequested", "ReadModelSwitched", "OldVersionDropped"]);
    assert_eq!(
        (entries[0]["reason"].as_str(), entries[0]["actor"]["role"].as_str()),
        (Some("fixed a fold"), Some("admin"))
    );
    assert_eq!(entries[1]["actor"]["role"], "system");
}
