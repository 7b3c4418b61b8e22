//! Identity and access over HTTP: bootstrap, lockout and alerts, password policy and aging, resets,
//! session revocation and inactivity, refresh and logout, devices (Part 11 AC-01..AC-09).

use std::num::NonZeroU32;

use serde_json::{Value, json};

use crate::support::{
    ADMIN_PASSWORD, BOOTSTRAP_TOKEN, LINE, OWN_PASSWORD, TEMPORARY_PASSWORD, TestApp, on_line, on_site, spawn,
    test_settings,
};

async fn event_types(app: &TestApp, token: &str, record_type: &str, id: &str) -> Vec<String> {
    let history = app.get(Some(token), &format!("/api/v1/history?record_type={record_type}&id={id}")).await.expect(200);
    history.body["events"]
        .as_array()
        .map(|events| events.iter().filter_map(|e| e["event_type"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn login_body(username: &str, password: &str) -> Value {
    json!({"username": username, "password": password})
}

#[tokio::test]
async fn the_first_administrator_is_created_once_and_only_with_the_bootstrap_token() {
    let app = spawn(test_settings()).await;
    let body = |token: &str| json!({"token": token, "username": "admin", "printed_name": "Ada Admin", "password": ADMIN_PASSWORD, "site": "plant-1"});
    let wrong = app.post(None, "/api/v1/bootstrap", &body("guess")).await.expect(403);
    assert_eq!(wrong.code(), "bootstrap_refused");
    assert_eq!(app.event_count().await, 0);
    app.post(None, "/api/v1/bootstrap", &body(BOOTSTRAP_TOKEN)).await.expect(201);
    let again = app.post(None, "/api/v1/bootstrap", &body(BOOTSTRAP_TOKEN)).await.expect(409);
    assert_eq!(again.code(), "already_bootstrapped");
    assert_eq!(app.event_count().await, 1);

    let without = spawn(api::ServiceSettings::default()).await;
    assert_eq!(
        without.post(None, "/api/v1/bootstrap", &body(BOOTSTRAP_TOKEN)).await.expect(403).code(),
        "bootstrap_refused"
    );
}

#[tokio::test]
async fn requests_without_a_valid_token_are_refused() {
    let app = spawn(test_settings()).await;
    let job = json!({"line": LINE, "product": "SKU-1", "target_quantity": 1});
    assert_eq!(app.post(None, "/api/v1/jobs", &job).await.expect(401).code(), "unauthenticated");
    assert_eq!(app.post(Some("not-a-jwt"), "/api/v1/jobs", &job).await.expect(401).code(), "invalid_token");
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn a_token_key_from_the_deployments_secret_store_signs_the_tokens_and_never_enters_the_database() {
    let database = testkit::fresh_database().await;
    let secret = [0x5a_u8; 32];
    let keys = api::auth::token::TokenKeys::from_secret(&secret).unwrap();
    let app =
        crate::support::spawn_on(&database, api::ServiceSettings { token_keys: Some(keys), ..test_settings() }).await;
    let admin = app.bootstrap_admin().await;
    app.get(Some(&admin), "/api/v1/security/alerts").await.expect(200);

    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_issuer(&["ms5-floor"]);
    let decoded = jsonwebtoken::decode::<api::auth::token::Claims>(
        &admin,
        &jsonwebtoken::DecodingKey::from_secret(&secret),
        &validation,
    );
    assert!(decoded.is_ok_and(|token| token.claims.sub.starts_with("user:")), "signed with the configured key");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM signing_keys").fetch_one(&app.owner).await.unwrap();
    assert_eq!(stored, 0, "the configured key is not written to the database");

    // An instance on the same database without the key signs with the database's key, and refuses
    // tokens signed with the configured one: the configured key is the one in use.
    let other = crate::support::spawn_on(&database, test_settings()).await;
    assert_eq!(other.get(Some(&admin), "/api/v1/security/alerts").await.expect(401).code(), "invalid_token");

    assert!(api::auth::token::TokenKeys::from_secret(&secret[..31]).is_err(), "a short key is refused");
}

#[tokio::test]
async fn ac_06_repeated_failures_lock_the_account_alert_administrators_and_an_administrator_unlocks() {
    let settings =
        api::ServiceSettings { max_failed_logins: NonZeroU32::new(3).unwrap_or(NonZeroU32::MIN), ..test_settings() };
    let app = spawn(settings).await;
    let admin = app.bootstrap_admin().await;
    let (olga_id, olga) = app.person(&admin, "olga", on_site("operator")).await;
    for _ in 0..3 {
        let failed = app.post(None, "/api/v1/auth/login", &login_body("olga", "Wrong-Password-1")).await.expect(401);
        assert_eq!(failed.code(), "invalid_credentials");
    }
    let locked = app.post(None, "/api/v1/auth/login", &login_body("olga", OWN_PASSWORD)).await.expect(403);
    assert_eq!(locked.code(), "account_locked");
    let refused =
        app.post(Some(&olga), "/api/v1/jobs", &json!({"line": LINE, "product": "P", "target_quantity": 1})).await;
    assert_eq!((refused.status, refused.code()), (401, "session_ended"), "a lockout ends the sessions");
    let metrics = app.send(app.client.get(app.url("/metrics"))).await.expect(200);
    let text = metrics.body.as_str().unwrap_or_default().to_owned();
    assert!(text.lines().any(|line| line == "lockouts_total 1"), "one lockout, counted once: {text}");

    let alerts = app.get(Some(&admin), "/api/v1/security/alerts").await.expect(200);
    let kinds: Vec<&str> =
        alerts.body.as_array().map(|a| a.iter().filter_map(|x| x["event_type"].as_str()).collect()).unwrap_or_default();
    assert_eq!(
        kinds,
        ["LoginFailed", "UserLockedOut"],
        "newest first: the attempt on the locked account, then the lockout"
    );
    assert!(alerts.body.as_array().is_some_and(|a| a.iter().all(|x| x["user_id"] == olga_id.as_str())));
    assert_eq!(app.get(Some(&olga), "/api/v1/security/alerts").await.status, 401);

    app.post(Some(&admin), &format!("/api/v1/users/{olga_id}/unlock"), &json!({"reason": "identity confirmed"}))
        .await
        .expect(200);
    app.login("olga", OWN_PASSWORD).await;
    let history = event_types(&app, &admin, "user", &olga_id).await;
    let failures = history.iter().filter(|t| *t == "LoginFailed").count();
    assert_eq!(failures, 4);
    assert!(history.ends_with(&[
        "UserLockedOut".into(),
        "LoginFailed".into(),
        "UserUnlocked".into(),
        "LoginSucceeded".into()
    ]));
}

#[tokio::test]
async fn ac_05_passwords_follow_the_policy_expire_and_an_administrators_reset_forces_a_change() {
    let app = spawn(test_settings()).await;
    let admin = app.bootstrap_admin().await;
    let (olga_id, olga) = app.person(&admin, "olga", on_site("operator")).await;
    let change =
        |current: &str, new: &str| json!({"username": "olga", "current_password": current, "new_password": new});
    let weak = app.post(None, "/api/v1/auth/password", &change(OWN_PASSWORD, "short")).await.expect(422);
    assert_eq!(weak.code(), "weak_password");
    let reused = app.post(None, "/api/v1/auth/password", &change(OWN_PASSWORD, TEMPORARY_PASSWORD)).await.expect(422);
    assert_eq!(reused.code(), "password_reused", "the administrator's temporary password is in the history");

    sqlx::query("UPDATE user_credentials SET set_at = now() - interval '91 days'").execute(&app.owner).await.unwrap();
    let expired = app.post(None, "/api/v1/auth/login", &login_body("olga", OWN_PASSWORD)).await.expect(403);
    assert_eq!(expired.code(), "password_expired");
    app.post(None, "/api/v1/auth/password", &change(OWN_PASSWORD, "Fresh-Secret-2027!")).await.expect(204);
    app.login("olga", "Fresh-Secret-2027!").await;

    let reset = json!({"temporary_password": "Reset-Pass-2026!", "reason": "forgot password"});
    app.post(Some(&admin), &format!("/api/v1/users/{olga_id}/password-reset"), &reset).await.expect(200);
    assert_eq!(app.get(Some(&olga), "/api/v1/history?record_type=line&id=x").await.code(), "session_ended");
    let must_change = app.post(None, "/api/v1/auth/login", &login_body("olga", "Reset-Pass-2026!")).await.expect(403);
    assert_eq!(must_change.code(), "password_change_required");
    app.post(None, "/api/v1/auth/password", &change("Reset-Pass-2026!", "Own-Again-2026!")).await.expect(204);
    app.login("olga", "Own-Again-2026!").await;
    let history = event_types(&app, &admin, "user", &olga_id).await;
    assert!(history.contains(&"PasswordReset".to_owned()) && history.last().is_some_and(|t| t == "LoginSucceeded"));
}

#[tokio::test]
async fn ac_07_an_administrator_revokes_every_session_of_a_user_at_once() {
    let app = spawn(test_settings()).await;
    let admin = app.bootstrap_admin().await;
    let (olga_id, first) = app.person(&admin, "olga", on_site("operator")).await;
    let second = app.login("olga", OWN_PASSWORD).await;
    let probe = format!("/api/v1/history?record_type=user&id={olga_id}");
    assert_eq!(
        app.get(Some(&first), &probe).await.code(),
        "forbidden",
        "the session works (operators cannot read accounts)"
    );
    app.post(Some(&admin), &format!("/api/v1/users/{olga_id}/sessions/revoke"), &json!({"reason": "badge lost"}))
        .await
        .expect(200);
    for token in [&first, &second] {
        assert_eq!(app.get(Some(token), &probe).await.code(), "session_ended");
    }
    assert_eq!(event_types(&app, &admin, "user", &olga_id).await.last().map(String::as_str), Some("SessionsRevoked"));

    // Taking a role away ends the sessions too: no instance may go on acting on the old grants.
    let grant = json!({"role": "quality", "scope": {"kind": "site", "site": "plant-1"}, "reason": "cover"});
    app.post(Some(&admin), &format!("/api/v1/users/{olga_id}/roles/grant"), &grant).await.expect(200);
    let third = app.login("olga", OWN_PASSWORD).await;
    app.post(Some(&admin), &format!("/api/v1/users/{olga_id}/roles/revoke"), &grant).await.expect(200);
    assert_eq!(app.get(Some(&third), &probe).await.code(), "session_ended");
}

#[tokio::test]
async fn ac_08_at_07_an_idle_session_times_out_and_the_timeout_is_recorded() {
    let app = spawn(test_settings()).await;
    let admin = app.bootstrap_admin().await;
    let (olga_id, olga) = app.person(&admin, "olga", on_site("operator")).await;
    sqlx::query("UPDATE sessions SET last_seen_at = now() - interval '1 hour' WHERE user_id = $1::uuid")
        .bind(&olga_id)
        .execute(&app.owner)
        .await
        .unwrap();
    let timed_out = app.get(Some(&olga), "/api/v1/history?record_type=line&id=x").await.expect(401);
    assert_eq!(timed_out.code(), "session_timed_out");
    assert_eq!(app.get(Some(&olga), "/api/v1/history?record_type=line&id=x").await.code(), "session_ended");
    assert_eq!(event_types(&app, &admin, "user", &olga_id).await.last().map(String::as_str), Some("SessionTimedOut"));
}

#[tokio::test]
async fn a_refresh_token_renews_access_until_the_person_signs_out() {
    let app = spawn(test_settings()).await;
    app.bootstrap_admin().await;
    let signed_in = app.post(None, "/api/v1/auth/login", &login_body("admin", ADMIN_PASSWORD)).await.expect(200);
    let refresh = json!({"refresh_token": signed_in.body["refresh_token"]});
    let renewed = app.post(None, "/api/v1/auth/refresh", &refresh).await.expect(200);
    let token = renewed.body["access_token"].as_str().unwrap_or_default().to_owned();
    app.get(Some(&token), "/api/v1/security/alerts").await.expect(200);
    let logout = app.send(app.client.post(app.url("/api/v1/auth/logout")).bearer_auth(&token)).await;
    assert_eq!(logout.status, 204);
    assert_eq!(app.get(Some(&token), "/api/v1/security/alerts").await.code(), "session_ended");
    assert_eq!(app.post(None, "/api/v1/auth/refresh", &refresh).await.code(), "session_ended");
    let bogus = app.post(None, "/api/v1/auth/refresh", &json!({"refresh_token": "nope"})).await.expect(401);
    assert_eq!(bogus.code(), "invalid_token");
}

#[tokio::test]
async fn ac_04_an_administrator_cannot_also_hold_a_record_owning_role() {
    let app = spawn(test_settings()).await;
    let admin = app.bootstrap_admin().await;
    let grants = json!([
        {"role": "admin", "scope": {"kind": "site", "site": "plant-1"}},
        {"role": "operator", "scope": {"kind": "site", "site": "plant-1"}}
    ]);
    let body = json!({"username": "mixed", "printed_name": "Mixed Roles", "grants": grants, "initial_password": TEMPORARY_PASSWORD});
    let before = app.event_count().await;
    let refused = app.post(Some(&admin), "/api/v1/users", &body).await.expect(422);
    assert_eq!(refused.code(), "segregation_of_duties");
    assert_eq!(app.event_count().await, before);
    let retry = json!({"username": "mixed", "printed_name": "Mixed Roles", "grants": on_site("operator"), "initial_password": TEMPORARY_PASSWORD});
    app.post(Some(&admin), "/api/v1/users", &retry).await.expect(201);
    let events = app.event_count().await;
    assert_eq!(app.post(Some(&admin), "/api/v1/users", &retry).await.expect(409).code(), "username_taken");
    assert_eq!(app.event_count().await, events, "a taken username creates no second account");
}

#[tokio::test]
async fn ac_09_devices_authenticate_with_their_secret_and_a_revoked_device_is_shut_out() {
    let app = spawn(test_settings()).await;
    let admin = app.bootstrap_admin().await;
    let enrol = json!({"device_id": "gw-1", "name": "Gateway 1", "kind": "plc_gateway", "scope": {"kind": "line", "line": LINE}});
    let enrolled = app.post(Some(&admin), "/api/v1/devices", &enrol).await.expect(201);
    let events = app.event_count().await;
    assert_eq!(app.post(Some(&admin), "/api/v1/devices", &enrol).await.expect(409).code(), "device_exists");
    assert_eq!(app.event_count().await, events);
    let secret = enrolled.body["secret"].as_str().unwrap_or_default().to_owned();
    let wrong =
        app.post(None, "/api/v1/auth/device", &json!({"device_id": "gw-1", "secret": "guess"})).await.expect(401);
    assert_eq!(wrong.code(), "invalid_device_credentials");
    let signed_in =
        app.post(None, "/api/v1/auth/device", &json!({"device_id": "gw-1", "secret": secret})).await.expect(200);
    let gateway = signed_in.body["access_token"].as_str().unwrap_or_default().to_owned();
    let job = json!({"line": LINE, "product": "SKU-1", "target_quantity": 1});
    assert_eq!(app.post(Some(&gateway), "/api/v1/jobs", &job).await.expect(403).code(), "forbidden");

    app.post(Some(&admin), "/api/v1/devices/gw-1/revoke", &json!({"reason": "stolen"})).await.expect(200);
    assert_eq!(app.post(Some(&gateway), "/api/v1/ingest/plc", &json!({"items": []})).await.status, 401);
    let again =
        app.post(None, "/api/v1/auth/device", &json!({"device_id": "gw-1", "secret": secret})).await.expect(401);
    assert_eq!(again.code(), "invalid_device_credentials");
}

#[tokio::test]
async fn ac_01_ac_09_a_person_signed_in_on_an_enrolled_tablet_has_the_tablet_recorded_on_their_events() {
    let app = spawn(test_settings()).await;
    let admin = app.bootstrap_admin().await;
    let (_, engineer) = app.person(&admin, "erin", on_site("engineer")).await;
    app.post(Some(&engineer), "/api/v1/lines", &json!({"line": LINE, "name": "L3", "time_zone": "UTC"}))
        .await
        .expect(201);
    app.person(&admin, "olga", on_line("operator", LINE)).await;
    let enrol =
        json!({"device_id": "tablet-7", "name": "Tablet 7", "kind": "tablet", "scope": {"kind": "line", "line": LINE}});
    let secret = app.post(Some(&admin), "/api/v1/devices", &enrol).await.expect(201).body["secret"].clone();
    let on_tablet =
        json!({"username": "olga", "password": OWN_PASSWORD, "device": {"device_id": "tablet-7", "secret": secret}});
    let olga = app.post(None, "/api/v1/auth/login", &on_tablet).await.expect(200).body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let andon = json!({"line": LINE, "station": "S1", "call_type": "quality", "priority": "normal", "description": "Label skew"});
    let call_id = app.post(Some(&olga), "/api/v1/andon-calls", &andon).await.expect(201).body["aggregate_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let history =
        app.get(Some(&engineer), &format!("/api/v1/history?record_type=andon_call&id={call_id}")).await.expect(200);
    assert_eq!(history.body["events"][0]["metadata"]["device_id"], "tablet-7");
    assert_eq!(history.body["events"][0]["metadata"]["actor_name"], "Person olga");

    let tablet_alone =
        app.post(None, "/api/v1/auth/device", &json!({"device_id": "tablet-7", "secret": secret})).await.expect(200);
    let tablet = tablet_alone.body["access_token"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        app.post(Some(&tablet), "/api/v1/andon-calls", &andon).await.expect(403).code(),
        "forbidden",
        "no shared write login"
    );
}

#[tokio::test]
async fn an_account_and_a_device_read_back_as_their_state_with_grants_scopes_and_enrolment() {
    let app = spawn(test_settings()).await;
    let admin = app.bootstrap_admin().await;
    let (olga_id, _) = app.person(&admin, "olga", on_line("operator", LINE)).await;
    let account = app.get(Some(&admin), &format!("/api/v1/users/{olga_id}")).await.expect(200);
    assert_eq!(
        account.body["state"],
        json!({"username": "olga", "printed_name": "Person olga",
               "grants": [{"role": "operator", "scope": {"kind": "line", "line": LINE}}],
               "deactivated": false, "locked_out": false, "consecutive_failures": 0,
               "must_change_password": false})
    );
    app.gateway(&admin, "gw-L3", json!({"kind": "site", "site": "plant-1"})).await;
    let device = app.get(Some(&admin), "/api/v1/devices/gw-L3").await.expect(200);
    assert_eq!(
        device.body["state"],
        json!({"name": "Gateway gw-L3", "enrolled": ["plc_gateway", {"kind": "site", "site": "plant-1"}],
               "revoked": false})
    );
}
