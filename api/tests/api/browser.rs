//! The floor's pages in a real browser: headless Chromium driven through chromium-driver (WebDriver)
//! by fantoccini. Each test saves a screenshot of every page it visits under
//! `target/screenshots/` (the README shows them).

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::support::{LINE, OWN_PASSWORD, TestApp, on_line, on_site, spawn, test_settings};

/// A chromium-driver process and a headless Chromium session through it; both end with it.
struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("a free port").port()
}

impl Browser {
    async fn start() -> Self {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver; scripts/test installs it)");
        let profile = tempfile::Builder::new().prefix("ms5-browser-").tempdir().expect("a profile directory");
        let capabilities = json!({"goog:chromeOptions": {"args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--no-first-run", "--window-size=1600,1000",
            format!("--user-data-dir={}", profile.path().display())]}});
        let capabilities = capabilities.as_object().cloned().unwrap_or_default();
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => break client,
                Err(error) if Instant::now() > deadline => panic!("no WebDriver session: {error}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        Self { client, driver, _profile: profile }
    }

    async fn open(&self, url: &str) {
        self.client.goto(url).await.expect("navigating");
    }

    /// Waits until the element is there and its text satisfies `wanted`; returns the text.
    async fn text_until(&self, css: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
            {
                if wanted(&text) {
                    return text;
                }
                last = text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("`{css}` never showed what was wanted; last: {last:?}");
    }

    /// The element, once it is there; fails with what the page says instead.
    async fn element(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css(css)).await {
            Ok(element) => element,
            Err(error) => {
                let text = self.client.execute("return document.body.innerText", vec![]).await;
                panic!("no `{css}` ({error}); the page says: {text:?}")
            }
        }
    }

    async fn fill(&self, css: &str, value: &str) {
        let element = self.element(css).await;
        element.clear().await.expect("clearing");
        element.send_keys(value).await.expect("typing");
    }

    /// Clicks the element; one the page redrew meanwhile is looked up again.
    async fn click(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.element(css).await.click().await {
                Ok(()) => return,
                Err(error) if Instant::now() > deadline => panic!("clicking `{css}`: {error}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    async fn choose(&self, css: &str, value: &str) {
        self.element(css).await.select_by_value(value).await.expect("choosing");
    }

    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        let directory = screenshots();
        std::fs::create_dir_all(&directory).expect("the screenshot directory");
        std::fs::write(directory.join(format!("{name}.png")), png).expect("saving a screenshot");
    }

    async fn sign_in(&self, app: &TestApp, username: &str) {
        self.open(&app.url("/sign-in")).await;
        self.fill("#person input[name=username]", username).await;
        self.fill("#person input[name=password]", OWN_PASSWORD).await;
        self.click("#person button[type=submit]").await;
        self.text_until("#who", |text| text.contains(username)).await;
    }

    async fn end(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn screenshots() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("screenshots")
}

/// A line running around the clock in two shifts, with a reason tree, an operator and a team leader:
/// the admin's, operator's and team leader's tokens.
async fn floor(app: &TestApp) -> (String, String, String) {
    let admin = app.bootstrap_admin().await;
    let (_, engineer) = app.person(&admin, "erin", on_site("engineer")).await;
    let (_, leader) = app.person(&admin, "theo", on_site("team_leader")).await;
    let (operator_id, operator) = app.person(&admin, "olga", on_line("operator", LINE)).await;
    let register = json!({"line": LINE, "name": "Packing 3", "time_zone": "Europe/Berlin"});
    app.post(Some(&engineer), "/api/v1/lines", &register).await.expect(201);
    let configure = |path: &str| app.url(&format!("/api/v1/lines/{LINE}/{path}"));
    let calendar = json!({"effective_from": "2026-01-01T00:00:00Z", "shifts": [
        {"name": "day", "start": "00:00:00", "end": "12:00:00", "breaks": []},
        {"name": "night", "start": "12:00:00", "end": "00:00:00", "breaks": []}]});
    let times = json!({"product": "SKU-1", "ideal_cycle_time_ms": 1000, "effective_from": "2026-01-01T00:00:00Z"});
    for (path, body) in [
        ("shift-calendar", calendar),
        ("ideal-cycle-times", times),
        ("downtime-reasons", json!({"code": "jam", "label": "Jam", "loss_category": "unplanned"})),
    ] {
        app.send(app.client.post(configure(path)).bearer_auth(&engineer).json(&body)).await.expect(200);
    }
    let template = json!({"line": LINE, "name": "Line clearance",
        "items": [{"id": "guard", "prompt": "Guard closed", "kind": {"kind": "check"}, "mandatory": true}]});
    app.post(Some(&engineer), "/api/v1/checklist-templates/clearance", &template).await.expect(200);
    let job = json!({"line": LINE, "product": "SKU-1", "target_quantity": 500});
    let job = app.post(Some(&leader), "/api/v1/jobs", &job).await.expect(201).body["aggregate_id"].clone();
    let job = job.as_str().unwrap_or_default().to_owned();
    app.post(Some(&leader), &format!("/api/v1/jobs/{job}/assign"), &json!({"operator": operator_id})).await.expect(200);
    (admin, operator, leader)
}

#[tokio::test]
async fn an_operator_and_a_team_leader_run_the_floor_from_the_pages_and_every_board_follows_live() {
    let app = spawn(test_settings()).await;
    let _projectors = app.start_projectors();
    let (_, operator, leader) = floor(&app).await;
    let browser = Browser::start().await;

    // The operator signs in and takes the job on at the tablet.
    browser.open(&app.url("/sign-in")).await;
    browser.screenshot("sign-in").await;
    browser.sign_in(&app, "olga").await;
    browser.open(&app.url(&format!("/lines/{LINE}/tablet"))).await;
    browser.click("#jobs button[data-step=accept]").await;
    browser.click("#jobs button[data-step=start]").await;
    browser.text_until("#status .state", |text| text == "Running").await;
    browser.fill("#counts input[name=good]", "120").await;
    browser.fill("#counts input[name=reject]", "0").await;
    browser.click("#counts button[type=submit]").await;
    browser.text_until("#message", |text| text == "Counts recorded.").await;

    // The overview follows the line from running to stopped and back.
    browser.open(&app.url("/")).await;
    let tile = format!("article[data-line='{LINE}'] .state");
    browser.text_until(&tile, |text| text.starts_with("Running")).await;
    let stop = json!({"line": LINE, "started_at": chrono::Utc::now()});
    let commanded = Instant::now();
    let stop = app.post(Some(&operator), "/api/v1/downtime", &stop).await.expect(201).body["aggregate_id"].clone();
    browser.text_until(&tile, |text| text.starts_with("Stopped: unassigned")).await;
    eprintln!("the overview showed the stop {:?} after the command was sent", commanded.elapsed());
    browser.screenshot("overview").await;

    // At the tablet the operator gives the stop its reason; the board shows it.
    browser.open(&app.url(&format!("/lines/{LINE}/tablet"))).await;
    let stop_id = stop.as_str().unwrap_or_default();
    browser.choose(&format!("form[data-stop='{stop_id}'] select[name=code]"), "jam").await;
    browser.click(&format!("form[data-stop='{stop_id}'] button[type=submit]")).await;
    browser.text_until("#message", |text| text == "Reason given.").await;
    browser.open(&app.url(&format!("/lines/{LINE}/board"))).await;
    browser.text_until(".board-head .state", |text| text == "Stopped: jam").await;
    browser.screenshot("board").await;

    // The stop ends: the overview shows the line running again.
    let end = json!({"ended_at": chrono::Utc::now()});
    app.post(Some(&operator), &format!("/api/v1/downtime/{stop_id}/end"), &end).await.expect(200);
    browser.open(&app.url("/")).await;
    browser.text_until(&tile, |text| text.starts_with("Running")).await;

    // An Andon call raised at the tablet appears on the area's Andon board...
    browser.open(&app.url(&format!("/lines/{LINE}/tablet"))).await;
    browser.fill("#raise input[name=description]", "Caps running low").await;
    browser.choose("#raise select[name=call_type]", "material").await;
    browser.click("#raise button[type=submit]").await;
    browser.text_until("#message", |text| text == "Andon call raised.").await;
    browser.screenshot("tablet").await;
    browser.text_until("#andon .call-status", |text| text == "Waiting").await;
    browser.end().await;

    // ...where the team leader acknowledges it, and the board says who did.
    let browser = Browser::start().await;
    browser.sign_in(&app, "theo").await;
    browser.open(&app.url("/andon/plant-1/packing")).await;
    browser.text_until("tr.call .call-status", |text| text == "Waiting").await;
    browser.click("tr.call button").await;
    browser.text_until("tr.call .call-status", |text| text.starts_with("Acknowledged by Person theo")).await;
    browser.screenshot("andon").await;
    let calls = app.get(Some(&leader), &format!("/api/v1/andon-calls?line={LINE}")).await.expect(200);
    assert_eq!(calls.body["calls"][0]["acknowledged_by"], "Person theo", "{}", calls.body);

    // The audit trail page finds the stop's reason, with who gave it.
    browser.open(&app.url("/audit-trail")).await;
    browser.choose("#search select[name=record_type]", "downtime").await;
    browser.fill("#search input[name=record_id]", stop_id).await;
    browser.click("#search button[type=submit]").await;
    browser.text_until("main table", |text| text.contains("Person olga (operator)") && text.contains("jam")).await;
    browser.screenshot("audit-trail").await;
    browser.end().await;
}

#[tokio::test]
async fn the_signing_dialog_shows_what_is_signed_and_its_meaning_before_credentials_and_a_wrong_password_signs_nothing()
{
    let app = spawn(test_settings()).await;
    let _projectors = app.start_projectors();
    floor(&app).await;
    let browser = Browser::start().await;
    browser.sign_in(&app, "olga").await;
    browser.open(&app.url(&format!("/lines/{LINE}/tablet?template=clearance"))).await;
    browser.click("#checklist button[type=submit]").await;
    browser.click("form[data-item=guard] button[type=submit]").await;
    browser.text_until("form[data-item=guard]", |text| text.contains("Answered: true")).await;
    browser.click("#complete-checklist").await;

    // First what is signed and what it means; no credential is asked for yet.
    let review = browser.text_until("#signing", |text| text.contains("Sign: performed")).await;
    assert!(review.contains("Person olga"), "the signer is named: {review}");
    let password_fields =
        browser.client.find_all(Locator::Css("#signing input[type=password]")).await.expect("a query");
    assert!(password_fields.is_empty(), "no credentials before the summary was seen");
    browser.screenshot("signing-dialog").await;
    browser.click("#sign-continue").await;

    // A wrong password is refused in words and signs nothing.
    browser.fill("#signing input[name=username]", "olga").await;
    browser.fill("#signing input[name=password]", "Not-The-Password-1").await;
    browser.click("#signing button[type=submit]").await;
    let refusal = browser.text_until("#signing .error", |text| !text.is_empty()).await;
    assert!(refusal.contains("invalid_credentials") || refusal.contains("wrong"), "{refusal}");
    let signatures: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type IN ('ChecklistSigned', 'ChecklistCompleted')")
            .fetch_one(&app.owner)
            .await
            .expect("counting");
    assert_eq!(signatures, 0, "nothing was signed");

    // The right password signs, and the checklist is complete.
    browser.fill("#signing input[name=password]", OWN_PASSWORD).await;
    browser.click("#signing button[type=submit]").await;
    browser.text_until("#message", |text| text == "Checklist completed and signed.").await;
    let signed: Vec<String> = sqlx::query_scalar(
        "SELECT event_type FROM events WHERE aggregate_type = 'checklist' AND event_type <> 'ChecklistStarted'
         AND event_type <> 'ChecklistItemAnswered' ORDER BY sequence",
    )
    .fetch_all(&app.owner)
    .await
    .expect("reading the log");
    assert_eq!(signed, ["ChecklistCompleted", "ChecklistSigned"]);
    browser.end().await;
}

#[tokio::test]
async fn a_display_shows_its_board_without_a_personal_sign_in_and_every_write_it_tries_is_refused() {
    let app = spawn(test_settings()).await;
    let _projectors = app.start_projectors();
    let (admin, _, _) = floor(&app).await;
    let display = json!({"device_id": "tv-l3", "name": "TV above L3", "kind": "display",
                         "scope": {"kind": "line", "line": LINE}});
    let enrolled = app.post(Some(&admin), "/api/v1/devices", &display).await.expect(201);
    let secret = enrolled.body["secret"].as_str().unwrap_or_default().to_owned();

    let browser = Browser::start().await;
    browser.open(&app.url(&format!("/sign-in?display&next=/lines/{LINE}/board"))).await;
    browser.fill("#display input[name=device_id]", "tv-l3").await;
    browser.fill("#display input[name=secret]", &secret).await;
    browser.click("#display button[type=submit]").await;
    browser.text_until(".board-head h1", |text| text == "Packing 3").await;
    browser.text_until(".board-head .state", |text| text == "Idle").await;

    // Whatever the page's session tries to write is refused.
    let writes = [
        ("/api/v1/downtime", json!({"line": LINE, "started_at": chrono::Utc::now()})),
        (
            "/api/v1/andon-calls",
            json!({"line": LINE, "station": "S1", "call_type": "other", "priority": "low", "description": "x"}),
        ),
        ("/api/v1/jobs", json!({"line": LINE, "product": "SKU-1", "target_quantity": 1})),
        ("/api/v1/checklists", json!({"template_id": "clearance"})),
        (
            &format!("/api/v1/lines/{LINE}/downtime-reasons"),
            json!({"code": "x", "label": "X", "loss_category": "unplanned"}),
        ),
    ];
    for (path, body) in writes {
        let status: Value = browser
            .client
            .execute_async(
                "const [path, body, done] = arguments;
                 const token = JSON.parse(sessionStorage.getItem('ms5.tokens')).access_token;
                 fetch(path, {method: 'POST', headers: {'content-type': 'application/json', authorization: 'Bearer ' + token},
                              body: JSON.stringify(body)}).then((r) => done(r.status));",
                vec![json!(path), body],
            )
            .await
            .expect("a write from the page");
        assert_eq!(status, 403, "{path}");
    }
    browser.screenshot("display-board").await;
    browser.end().await;
}

/// A TCP relay between the browser and the service that can be cut, as a pulled cable would: while cut
/// it drops every connection it carries and every new one.
struct Relay {
    address: SocketAddr,
    open: tokio::sync::watch::Sender<bool>,
}

impl Relay {
    async fn to(target: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a relay port");
        let address = listener.local_addr().expect("an address");
        let (open, is_open) = tokio::sync::watch::channel(true);
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !*is_open.borrow() {
                    continue;
                }
                let mut is_open = is_open.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = is_open.wait_for(|open| !*open) => {}
                    }
                });
            }
        });
        Self { address, open }
    }

    fn set_open(&self, open: bool) {
        self.open.send_replace(open);
    }
}

#[tokio::test]
async fn a_board_whose_connection_is_lost_says_so_plainly_and_recovers_by_itself() {
    let app = spawn(test_settings()).await;
    let _projectors = app.start_projectors();
    let (_, operator, _) = floor(&app).await;
    let relay = Relay::to(app.address).await;
    let browser = Browser::start().await;
    let through = |path: &str| format!("http://{}{path}", relay.address);

    browser.open(&through("/sign-in")).await;
    browser.fill("#person input[name=username]", "olga").await;
    browser.fill("#person input[name=password]", OWN_PASSWORD).await;
    browser.click("#person button[type=submit]").await;
    browser.text_until("#who", |text| text.contains("olga")).await;
    browser.open(&through(&format!("/lines/{LINE}/board"))).await;
    browser.text_until(".board-head .state", |text| text == "Idle").await;
    let banner_hidden = || async {
        let hidden: Value =
            browser.client.execute("return document.getElementById('stale').hidden", vec![]).await.expect("reading");
        hidden == json!(true)
    };
    assert!(banner_hidden().await, "a live board shows no banner");

    relay.set_open(false);
    browser.text_until("#stale", |text| text.starts_with("Connection lost since")).await;
    browser.screenshot("board-stale").await;
    // Meanwhile the line stops; once the connection is back the board shows it, without the banner.
    let stop = json!({"line": LINE, "started_at": chrono::Utc::now()});
    app.post(Some(&operator), "/api/v1/downtime", &stop).await.expect(201);
    relay.set_open(true);
    browser.text_until(".board-head .state", |text| text == "Stopped: unassigned").await;
    assert!(banner_hidden().await, "the banner is gone once the board is current again");
    browser.end().await;
}

#[tokio::test]
async fn pages_are_sent_with_a_policy_allowing_only_their_origin_and_a_path_naming_no_line_is_refused() {
    let app = spawn(test_settings()).await;
    let board = app.client.get(app.url(&format!("/lines/{LINE}/board"))).send().await.expect("a page");
    assert_eq!(board.status().as_u16(), 200);
    let policy = board.headers()["content-security-policy"].to_str().unwrap_or_default().to_owned();
    assert!(policy.starts_with("default-src 'self'; script-src 'self'"), "{policy}");
    let html = board.text().await.unwrap_or_default();
    assert!(html.contains(&format!(r#"data-page="board" data-line="{LINE}" class="kiosk""#)), "{html}");

    let too_long = "L".repeat(10_000);
    for path in ["/lines/plant-1/packing/L%203/board".to_owned(), format!("/lines/plant-1/packing/{too_long}/tablet")] {
        let refused = app.get(None, &path).await.expect(400);
        assert_eq!(refused.code(), "invalid_path", "{path}");
    }
}
