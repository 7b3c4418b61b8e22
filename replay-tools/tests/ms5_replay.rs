//! `ms5-replay` as an auditor runs it: exit 0 for a clean log and a valid proof file, 1 for a tampered
//! one, 2 when it cannot check.

// Test code: a failed unwrap is a failed test, with its error in the message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use commands::ledger::{SealKey, seal};
use commands::{CommandContext, PgEventStore, StoreSettings, execute};
use domain::actor::{Actor, Role, UserId};
use domain::andon::{AndonCall, AndonCommand, CallType, Priority};
use domain::line_id::LineId;
use domain::values::{Description, Name, StationId};

struct Sealed {
    database: testkit::TestDatabase,
    key: SealKey,
    dir: std::path::PathBuf,
}

/// Three Andon calls raised, sealed and checkpointed.
async fn sealed() -> Sealed {
    sealed_by(SealKey::parse(&SealKey::generate("ms5-floor/test").unwrap()).unwrap()).await
}

/// Three Andon calls raised, sealed and checkpointed with `key`.
async fn sealed_by(key: SealKey) -> Sealed {
    let database = testkit::fresh_database().await;
    let app = commands::database::application_pool(&database.url, 4).await.unwrap();
    raise(&app, &["c-1", "c-2", "c-3"]).await;
    let mut connection = app.acquire().await.unwrap();
    seal_all(&mut connection, 3).await;
    seal::write_checkpoint(&mut connection, &key, chrono::Utc::now()).await.unwrap();
    let dir = std::env::temp_dir().join(format!("ms5-replay-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    Sealed { database, key, dir }
}

/// Raises an Andon call of each id on line plant-1/packing/L3.
async fn raise(app: &sqlx::PgPool, calls: &[&str]) {
    raise_on(app, "plant-1/packing/L3", calls).await;
}

async fn raise_on(app: &sqlx::PgPool, line: &str, calls: &[&str]) {
    let store = PgEventStore::<AndonCall>::new(app.clone(), StoreSettings::default());
    let context = CommandContext::new(Actor {
        user_id: UserId::from_uuid(uuid::Uuid::from_u128(7)),
        printed_name: Name::parse("Olga Operator").unwrap(),
        role: Role::Operator,
    });
    for call in calls {
        let raise = AndonCommand::Raise {
            line: LineId::parse(line).unwrap(),
            station: StationId::parse("st-1").unwrap(),
            call_type: CallType::Material,
            priority: Priority::Normal,
            description: Description::parse("film roll empty").unwrap(),
        };
        execute(&store, call, raise, &context).await.unwrap();
    }
}

/// Seals the log up to its first `count` events (as the service's sealer would), past those sealed.
async fn seal_all(connection: &mut sqlx::PgConnection, count: u64) {
    // The horizon is cluster-wide: other tests' open transactions can hold the reader back a while.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut after = commands::event_log::LogPosition::START;
    let mut sealed = 0;
    while sealed < count {
        assert!(std::time::Instant::now() < deadline, "only {sealed} of {count} events could be read");
        let events = commands::event_log::read_committed_batch(&mut *connection, after, 100).await.unwrap();
        if let Some(last) = events.last() {
            after = last.log_position();
            let positions: Vec<i64> = events.iter().map(|event| event.position).collect();
            let known = commands::ledger::rows::sealed_at(&mut *connection, &positions).await.unwrap();
            let fresh: Vec<_> = events.into_iter().filter(|event| !known.contains_key(&event.position)).collect();
            sealed = if fresh.is_empty() {
                commands::ledger::rows::size(&mut *connection).await.unwrap()
            } else {
                seal::seal(connection, &fresh).await.unwrap()
            };
        }
    }
}

/// Runs `ms5-replay`: its exit status and what it printed (and, when it could not work, why).
fn replay(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_ms5-replay")).args(args).output().unwrap();
    let mut printed = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.code() == Some(2) {
        printed.push_str(&String::from_utf8_lossy(&output.stderr));
    }
    (output.status.code().unwrap_or(-1), printed)
}

#[tokio::test]
async fn at_15_a_proof_file_verifies_offline_and_fails_once_its_event_is_altered() {
    let sealed = sealed().await;
    let app = commands::database::application_pool(&sealed.database.url, 2).await.unwrap();
    let proof = commands::ledger::proof::prove_event(&app, 2).await.unwrap();
    let file = sealed.dir.join("event-2.proof.json");
    std::fs::write(&file, serde_json::to_string_pretty(&proof).unwrap()).unwrap();
    let key_file = sealed.dir.join("verifier.key");
    std::fs::write(&key_file, sealed.key.verifier().as_str()).unwrap();
    let key = key_file.to_str().unwrap();

    let (status, out) = replay(&["verify-proof", file.to_str().unwrap(), "--verifier-key", key]);
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("ledger number 2 (andon/c-2 #1)") && out.contains("3 entries"), "{out}");

    let mut altered = proof.clone();
    altered.event.payload["call_type"] = serde_json::json!("safety");
    std::fs::write(&file, serde_json::to_string(&altered).unwrap()).unwrap();
    let (status, out) = replay(&["--json", "verify-proof", file.to_str().unwrap(), "--verifier-key", key]);
    assert_eq!(status, 1, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["valid"], false);

    let (status, _) = replay(&["verify-proof", file.to_str().unwrap(), "--verifier-key", "not a key"]);
    assert_eq!(status, 2, "a check that cannot be made");
}

#[tokio::test]
async fn at_15_the_database_verifies_clean_until_a_superuser_edits_an_event() {
    let sealed = sealed().await;
    let verifier = sealed.key.verifier().as_str().to_owned();
    let (status, out) = replay(&["verify", "--database-url", &sealed.database.url, "--verifier-key", &verifier]);
    assert_eq!(status, 0, "{out}");
    assert!(out.starts_with("clean: 3 entries in 3 streams, 1 checkpoints"), "{out}");

    let owner = sealed.database.owner_pool().await;
    let mut transaction = owner.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica").execute(&mut *transaction).await.unwrap();
    sqlx::query(
        "UPDATE events SET payload = jsonb_set(payload, '{priority}', '\"critical\"') WHERE aggregate_id = 'c-3'",
    )
    .execute(&mut *transaction)
    .await
    .unwrap();
    transaction.commit().await.unwrap();
    let (status, out) =
        replay(&["--json", "verify", "--database-url", &sealed.database.url, "--verifier-key", &verifier]);
    assert_eq!(status, 1, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (report["fault"]["kind"].as_str(), report["fault"]["ledger_number"].as_u64()),
        (Some("chain_broken"), Some(3))
    );
}

#[tokio::test]
async fn at_15_an_export_verifies_offline_and_an_edit_a_missing_line_or_a_cut_tail_is_found_at_its_line() {
    let sealed = sealed().await;
    let verifier = sealed.key.verifier().as_str().to_owned();
    let file = sealed.dir.join("log.ndjson");
    let path = file.to_str().unwrap();
    let (status, out) = replay(&["export", "--database-url", &sealed.database.url, "--output", path]);
    assert_eq!(status, 0, "{out}");
    assert!(out.starts_with("exported 3 entries and 1 checkpoints"), "{out}");
    let (status, _) = replay(&["export", "--database-url", &sealed.database.url, "--output", path]);
    assert_eq!(status, 2, "an existing file is never overwritten");
    let (status, out) = replay(&["verify-export", path, "--verifier-key", &verifier]);
    assert_eq!(status, 0, "{out}");
    assert!(out.starts_with("clean: 6 lines, 3 entries in 3 streams, 1 checkpoints"), "{out}");

    let original = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    let kinds: Vec<String> =
        lines.iter().map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["kind"].to_string()).collect();
    assert_eq!(kinds, ["\"header\"", "\"event\"", "\"event\"", "\"event\"", "\"checkpoint\"", "\"trailer\""]);
    let fault_of = |edited: String| {
        let tampered = sealed.dir.join(format!("tampered-{}.ndjson", uuid::Uuid::now_v7()));
        std::fs::write(&tampered, edited).unwrap();
        let (status, out) =
            replay(&["--json", "verify-export", tampered.to_str().unwrap(), "--verifier-key", &verifier]);
        assert_eq!(status, 1, "{out}");
        let report: serde_json::Value = serde_json::from_str(&out).unwrap();
        (report["fault"]["line"].as_u64().unwrap(), report["fault"]["kind"].as_str().unwrap().to_owned())
    };
    let join = |lines: &[&str]| lines.iter().map(|line| format!("{line}\n")).collect::<String>();

    // One byte of the second event's payload.
    let edited =
        original.replacen("film roll empty", "film roll emptY", 2).replacen("film roll emptY", "film roll empty", 1);
    assert_eq!(fault_of(edited), (3, "chain_broken".to_owned()));
    // The second event's line removed: the third stands where the second should.
    assert_eq!(fault_of(join(&[lines[0], lines[1], lines[3], lines[4], lines[5]])), (3, "ledger_gap".to_owned()));
    // The checkpoint's signed text edited.
    let note = lines[4].replace("ms5-floor/test", "ms5-floor/fake");
    assert_eq!(
        fault_of(join(&[lines[0], lines[1], lines[2], lines[3], &note, lines[5]])),
        (5, "bad_checkpoint_signature".to_owned())
    );
    // The tail cut at a line's end, and in the middle of a line.
    assert_eq!(fault_of(join(&lines[..4])), (5, "truncated".to_owned()));
    let cut = &original[..original.find(lines[3]).unwrap() + lines[3].len() / 2];
    assert_eq!(fault_of(cut.to_owned()), (4, "malformed".to_owned()));
}

#[tokio::test]
async fn rc_02_a_backup_restores_into_a_scratch_database_and_verifies_and_a_bad_one_restores_nothing() {
    let sealed = sealed().await;
    let verifier = sealed.key.verifier().as_str().to_owned();
    let file = sealed.dir.join("backup.ndjson");
    let (status, out) = replay(&["export", "--database-url", &sealed.database.url, "--output", file.to_str().unwrap()]);
    assert_eq!(status, 0, "{out}");

    // A tampered copy restores nothing.
    let scratch = testkit::fresh_database().await;
    let tampered = sealed.dir.join("tampered.ndjson");
    let original = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&tampered, original.replacen("film roll empty", "film roll emptY", 1)).unwrap();
    let args = |file: &std::path::Path, url: &str| {
        vec![
            "import".to_owned(),
            file.to_str().unwrap().to_owned(),
            "--database-url".into(),
            url.to_owned(),
            "--verifier-key".into(),
            verifier.clone(),
        ]
    };
    let run = |args: Vec<String>| replay(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let (status, out) = run(args(&tampered, &scratch.url));
    assert_eq!(status, 1, "{out}");
    assert!(out.starts_with("FAILED at line 2"), "{out}");
    let app = commands::database::application_pool(&scratch.url, 2).await.unwrap();
    let held: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&app).await.unwrap();
    assert_eq!(held, 0, "a file with a fault imports nothing");

    // The backup restores; sealed again, the database verifies against the same checkpoint.
    let (status, out) = run(args(&file, &scratch.url));
    assert_eq!(status, 0, "{out}");
    assert!(out.starts_with("imported: 6 lines, 3 entries in 3 streams, 1 checkpoints"), "{out}");
    seal_all(&mut app.acquire().await.unwrap(), 3).await;
    let (status, out) = replay(&["verify", "--database-url", &scratch.url, "--verifier-key", &verifier]);
    assert_eq!(status, 0, "{out}");
    assert!(out.starts_with("clean: 3 entries in 3 streams, 1 checkpoints"), "{out}");
    let rows = |url: String| async move {
        let pool = commands::database::application_pool(&url, 1).await.unwrap();
        sqlx::query_as::<_, (uuid::Uuid, String, Vec<u8>)>(
            "SELECT e.event_id, e.aggregate_id, e.stream_hash FROM events e JOIN ledger l USING (position) ORDER BY l.ledger_number",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    assert_eq!(
        rows(scratch.url.clone()).await,
        rows(sealed.database.url.clone()).await,
        "the same events at the same ledger numbers"
    );

    // A database that holds events is never imported into.
    let (status, out) = run(args(&file, &sealed.database.url));
    assert_eq!(status, 2, "{out}");
}

#[tokio::test]
async fn a_seal_key_made_by_the_tool_signs_checkpoints_that_its_printed_verifier_key_checks() {
    let dir = std::env::temp_dir().join(format!("ms5-seal-key-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("seal-key");
    let (status, printed) = replay(&["seal-key", "ms5-floor/plant-1", "--output", file.to_str().unwrap()]);
    assert_eq!(status, 0, "{printed}");
    let verifier = printed.trim().to_owned();
    assert!(verifier.starts_with("ms5-floor/plant-1+"), "{verifier}");
    let mode = std::fs::metadata(&file).map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777);
    assert_eq!(mode.ok(), Some(0o600), "the private key is for its owner only");
    let (status, _) = replay(&["seal-key", "ms5-floor/plant-1", "--output", file.to_str().unwrap()]);
    assert_eq!(status, 2, "an existing key file is never overwritten");

    let sealed = sealed_by(SealKey::parse(&std::fs::read_to_string(&file).unwrap()).unwrap()).await;
    let (status, out) = replay(&["verify", "--database-url", &sealed.database.url, "--verifier-key", &verifier]);
    assert_eq!(status, 0, "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The file names in `directory`, sorted.
fn names_in(directory: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(directory).unwrap().map(|entry| entry.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

/// A sealed log with the scheduled backup's two directories: exports, and the checkpoints it keeps.
struct BackupSite {
    sealed: Sealed,
    verifier: String,
    exports: std::path::PathBuf,
    kept: std::path::PathBuf,
}

async fn backup_site() -> BackupSite {
    let sealed = sealed().await;
    let verifier = sealed.key.verifier().as_str().to_owned();
    let (exports, kept) = (sealed.dir.join("exports"), sealed.dir.join("kept"));
    std::fs::create_dir_all(&exports).unwrap();
    std::fs::create_dir_all(&kept).unwrap();
    BackupSite { sealed, verifier, exports, kept }
}

impl BackupSite {
    /// `ms5-replay backup` of the log at `url` into this site's directories.
    fn backup(&self, url: &str) -> (i32, String) {
        replay(&[
            "backup",
            "--database-url",
            url,
            "--directory",
            self.exports.to_str().unwrap(),
            "--checkpoints",
            self.kept.to_str().unwrap(),
            "--verifier-key",
            &self.verifier,
        ])
    }
}

#[tokio::test]
async fn rc_02_the_scheduled_backup_keeps_verified_exports_and_their_checkpoints_apart_and_refuses_another_history() {
    let site = backup_site().await;
    let BackupSite { sealed, verifier, exports, kept } = &site;

    let (status, out) = site.backup(&sealed.database.url);
    assert_eq!(status, 0, "{out}");
    assert!(out.starts_with("backed up 3 entries and 1 checkpoints to "), "{out}");
    assert!(out.contains("no checkpoint was kept before"), "{out}");
    assert_eq!(names_in(kept), ["3.checkpoint"]);
    let app = commands::database::application_pool(&sealed.database.url, 2).await.unwrap();
    let stored = commands::ledger::rows::latest_checkpoint(&app).await.unwrap().unwrap();
    assert_eq!(std::fs::read_to_string(kept.join("3.checkpoint")).unwrap(), stored.note);

    // The next run checks the grown log against what the first kept.
    grown(sealed).await;
    let (status, out) = site.backup(&sealed.database.url);
    assert_eq!(status, 0, "{out}");
    assert!(out.starts_with("backed up 5 entries and 2 checkpoints"), "{out}");
    assert!(out.contains("it extends the kept checkpoint of 3 entries"), "{out}");
    assert_eq!(names_in(kept), ["3.checkpoint", "5.checkpoint"]);
    let files = names_in(exports);
    assert_eq!(files.len(), 2, "{files:?}");
    for file in &files {
        assert!(file.starts_with("ms5-log-") && file.ends_with(".ndjson"), "{file}");
        let (status, out) =
            replay(&["verify-export", exports.join(file).to_str().unwrap(), "--verifier-key", verifier]);
        assert_eq!(status, 0, "{file}: {out}");
    }

    // Another history signed with the same key (a database swapped or restored from elsewhere)
    // verifies by itself, but not against the checkpoint kept apart: no backup is taken of it.
    let other = sealed_by(sealed.key.clone()).await;
    let pool = commands::database::application_pool(&other.database.url, 2).await.unwrap();
    raise(&pool, &["r-4", "r-5", "r-6"]).await;
    let mut connection = pool.acquire().await.unwrap();
    seal_all(&mut connection, 6).await;
    seal::write_checkpoint(&mut connection, &sealed.key, chrono::Utc::now()).await.unwrap();
    let (status, out) = replay(&["verify", "--database-url", &other.database.url, "--verifier-key", verifier]);
    assert_eq!(status, 0, "{out}");
    let (status, out) = site.backup(&other.database.url);
    assert_eq!(status, 1, "{out}");
    assert!(out.starts_with("NO BACKUP: the log in the database does not verify\nFAILED"), "{out}");
    assert_eq!(names_in(exports), files, "nothing was exported");
    assert_eq!(names_in(kept), ["3.checkpoint", "5.checkpoint"]);
}

/// What a backup run killed midway leaves (a half-written export under its `.unverified` name, a
/// half-written kept checkpoint under its `.partial` name) is never taken for a backup or a kept
/// checkpoint by the next run, and is left for someone to look at.
#[tokio::test]
async fn rc_02_a_backup_run_killed_midway_leaves_only_unnamed_files_that_the_next_run_ignores() {
    let site = backup_site().await;
    let BackupSite { sealed, verifier, exports, kept } = &site;
    let leftover = "ms5-log-20261130T023000.000Z.ndjson.unverified";
    std::fs::write(exports.join(leftover), "{\"kind\":\"header\"").unwrap();
    std::fs::write(kept.join("9.checkpoint.partial"), "ms5-floor/test\n9\n").unwrap();

    let (status, out) = site.backup(&sealed.database.url);
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("no checkpoint was kept before"), "the partial checkpoint is not a kept one: {out}");
    assert_eq!(names_in(kept), ["3.checkpoint", "9.checkpoint.partial"]);
    let files = names_in(exports);
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.contains(&leftover.to_owned()), "the leftover is kept as it was: {files:?}");
    let backup = files.iter().find(|name| name.ends_with(".ndjson")).unwrap();
    let (status, out) = replay(&["verify-export", exports.join(backup).to_str().unwrap(), "--verifier-key", verifier]);
    assert_eq!(status, 0, "{out}");
}

#[tokio::test]
async fn at_14_a_record_replays_step_by_step_and_as_of_a_past_instant_with_what_changed_since() {
    let sealed = sealed().await;
    let app = commands::database::application_pool(&sealed.database.url, 2).await.unwrap();
    let store = PgEventStore::<AndonCall>::new(app.clone(), StoreSettings::default());
    let leader = CommandContext::new(Actor {
        user_id: UserId::from_uuid(uuid::Uuid::from_u128(8)),
        printed_name: Name::parse("Theo Leader").unwrap(),
        role: Role::TeamLeader,
    });
    let raised_at: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT recorded_at FROM events WHERE aggregate_id = 'c-2'").fetch_one(&app).await.unwrap();
    execute(&store, "c-2", AndonCommand::Acknowledge, &leader).await.unwrap();
    let url = &sealed.database.url;
    let json = |args: &[&str]| {
        let (status, out) = replay(args);
        assert_eq!(status, 0, "{out}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };

    let whole = json(&["--json", "record", "andon", "c-2", "--database-url", url]);
    assert_eq!((whole["version"].as_u64(), whole["chain_verified"].as_bool()), (Some(2), Some(true)));
    assert_eq!(whole["steps"][1]["metadata"]["actor_name"], "Theo Leader");
    assert_eq!(whole["state"]["status"], "acknowledged");
    assert!(whole["steps"][1]["changes"].as_array().unwrap().iter().any(|change| change["field"] == "status"));

    // As of the instant it was raised: one step, still open; and what changed since then.
    let at = raised_at.to_rfc3339();
    let then = json(&["--json", "record", "andon", "c-2", "--database-url", url, "--at", &at]);
    assert_eq!((then["version"].as_u64(), then["state"]["status"].as_str()), (Some(1), Some("raised")));
    let since = json(&["--json", "record", "andon", "c-2", "--database-url", url, "--since", &at]);
    let fields: Vec<&str> =
        since["changed_since"].as_array().unwrap().iter().filter_map(|change| change["field"].as_str()).collect();
    assert!(fields.contains(&"status") && fields.contains(&"acknowledged_at"), "{fields:?}");
    let by_sequence = json(&["--json", "record", "andon", "c-2", "--database-url", url, "--sequence", "1"]);
    assert_eq!(by_sequence["state"], then["state"]);

    let (status, out) = replay(&["record", "andon", "c-2", "--database-url", url]);
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("#2 ") && out.contains("AndonAcknowledged by Theo Leader (team_leader)"), "{out}");
    let (status, _) = replay(&[
        "record",
        "andon",
        "c-2",
        "--database-url",
        "postgres://nobody@127.0.0.1:1/none",
        "--connect-timeout-seconds",
        "1",
    ]);
    assert_eq!(status, 2, "an unreachable database is a check that cannot be made");
}

#[tokio::test]
async fn the_log_replays_in_commit_order_by_selection_and_a_log_missing_an_event_cannot_be_replayed() {
    let sealed = sealed().await;
    let url = &sealed.database.url;
    let (status, out) = replay(&["log", "--database-url", url]);
    assert_eq!(status, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("1 andon/c-1 #1 AndonRaised") && lines[2].starts_with("3 andon/c-3 #1"), "{out}");
    assert!(lines[3].starts_with("replayed 3 events up to ledger number 3; digest "), "{out}");
    let (status, out) = replay(&["--json", "log", "--database-url", url, "--from", "2", "--record-type", "andon"]);
    assert_eq!(status, 0, "{out}");
    let events: Vec<serde_json::Value> = out.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(events.iter().filter_map(|event| event["ledger_number"].as_u64()).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(events[2]["count"], 2);
    let (_, none) = replay(&["--json", "log", "--database-url", url, "--record-type", "job"]);
    assert!(none.starts_with("{\"count\":0"), "{none}");

    // By line: a call on another line, acknowledged, is not among L3's events, and is L4's.
    let app = commands::database::application_pool(url, 2).await.unwrap();
    raise_on(&app, "plant-1/packing/L4", &["d-1"]).await;
    acknowledge(&app, "d-1").await;
    acknowledge(&app, "c-1").await;
    seal_all(&mut app.acquire().await.unwrap(), 6).await;
    let on_line = |line: &str| {
        let (status, out) = replay(&["--json", "log", "--database-url", url, "--line", line]);
        assert_eq!(status, 0, "{out}");
        out.lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["ledger_number"].as_u64())
            .collect::<Vec<_>>()
    };
    assert_eq!(on_line("plant-1/packing/L3"), [1, 2, 3, 6]);
    assert_eq!(on_line("plant-1/packing/L4"), [4, 5]);
    assert_eq!(on_line("plant-1/packing/L9"), Vec::<u64>::new());

    // A reader that stopped reading (`| head`) ends the replay quietly.
    let (closed, writer) = std::io::pipe().unwrap();
    drop(closed);
    let output = Command::new(env!("CARGO_BIN_EXE_ms5-replay"))
        .args(["log", "--database-url", url])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(141));
    assert!(output.stderr.is_empty(), "{}", String::from_utf8_lossy(&output.stderr));

    let owner = sealed.database.owner_pool().await;
    let mut transaction = owner.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica").execute(&mut *transaction).await.unwrap();
    sqlx::query("DELETE FROM events WHERE aggregate_id = 'c-2'").execute(&mut *transaction).await.unwrap();
    transaction.commit().await.unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ms5-replay")).args(["log", "--database-url", url]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let reason = String::from_utf8_lossy(&output.stderr);
    assert!(reason.contains("ledger number 2 is no longer in the log"), "{reason}");
}

#[tokio::test]
async fn at_07_at_14_a_read_model_is_rebuilt_from_the_command_line_and_the_rebuild_is_on_record() {
    let sealed = sealed().await;
    let url = &sealed.database.url;
    let (status, out) = replay(&["rebuild", "andon", "--database-url", url, "--reason", "checking after an upgrade"]);
    assert_eq!(status, 0, "{out}");
    // Every event of the log is read, the rebuild's own request among them.
    assert!(out.contains("andon rebuilt from 4 events; queries read green"), "{out}");
    // The service's configuration file names the database for the tools too.
    let config = sealed.dir.join("ms5.env");
    std::fs::write(&config, format!("DATABASE_URL={url}\n")).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ms5-replay"))
        .env_remove("DATABASE_URL")
        .env("MS5_CONFIG_FILE", &config)
        .arg("status")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(0), "{out}");
    // One event behind: the switch's own record, which a live worker applies once one runs.
    assert!(out.contains("andon in green: version 1, 4 events applied, 1 behind"), "{out}");
    assert!(!out.contains("andon~rebuild"), "no rebuild runs: {out}");
    let app = commands::database::application_pool(url, 1).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM read_andon").fetch_one(&app).await.unwrap();
    assert_eq!(rows, 3, "the rebuilt version holds the three calls");
    let recorded: Vec<(String, String)> = sqlx::query_as(
        "SELECT event_type, metadata->>'actor_name' FROM events WHERE aggregate_type = 'read_model' AND aggregate_id = 'andon'
         ORDER BY sequence",
    )
    .fetch_all(&app)
    .await
    .unwrap();
    assert_eq!(
        recorded.iter().map(|(kind, _)| kind.as_str()).collect::<Vec<_>>(),
        ["RebuildRequested", "ReadModelSwitched"]
    );
    assert!(recorded[0].1.starts_with("ms5-replay run by "), "{recorded:?}");

    // Asked for only (no service runs to carry it out): its row shows it, at its start, in green.
    let (status, out) = replay(&["rebuild", "jobs", "--no-wait", "--database-url", url, "--reason", "later"]);
    assert_eq!(status, 0, "{out}");
    let (_, out) = replay(&["status", "--database-url", url]);
    assert!(
        out.contains("jobs~rebuild in green: version 2, 0 events applied") && out.contains("run by no instance"),
        "{out}"
    );

    let (status, _) = replay(&["rebuild", "ledger", "--database-url", url, "--reason", "x"]);
    assert_eq!(status, 2, "the ledger is never rebuilt");
}

#[tokio::test]
async fn a_read_model_compared_with_its_recomputation_shows_a_row_changed_behind_its_back() {
    let sealed = sealed().await;
    let url = &sealed.database.url;
    let compare = |reason: &str| replay(&["--json", "compare", "andon", "--database-url", url, "--reason", reason]);
    let (status, out) = compare("routine check");
    assert_eq!(status, 0, "{out}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["differences"], serde_json::json!([]));

    let owner = sealed.database.owner_pool().await;
    sqlx::query("UPDATE rm_andon_blue.read_andon SET priority = 'critical' WHERE call_id = 'c-2'")
        .execute(&owner)
        .await
        .unwrap();
    let (status, out) = compare("after an incident");
    assert_eq!(status, 1, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let difference = &report["differences"][0];
    assert_eq!(
        (difference["table"].as_str(), difference["only_live"].as_i64(), difference["only_recomputed"].as_i64()),
        (Some("read_andon"), Some(1), Some(1))
    );
    assert!(difference["examples"].to_string().contains("critical"), "{difference}");
    let pointer = projections::engine::colors::read(&owner, "andon").await.unwrap();
    assert_eq!((pointer.active.as_str(), pointer.building), ("blue", None), "a comparison never switches");
}

/// A witness run as `ms5-replay witness`, and the address it listens on.
struct RunningWitness {
    process: std::process::Child,
    url: String,
}

impl Drop for RunningWitness {
    fn drop(&mut self) {
        self.process.kill().ok();
        self.process.wait().ok();
    }
}

fn start_witness(key_file: &std::path::Path, log_key: &str, state: &std::path::Path) -> RunningWitness {
    use std::io::BufRead as _;
    let mut process = Command::new(env!("CARGO_BIN_EXE_ms5-replay"))
        .args(["witness", "--key-file", key_file.to_str().unwrap(), "--log-key", log_key])
        .args(["--state", state.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(process.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let address = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("the witness said {line:?}"));
    RunningWitness { process, url: format!("http://{address}") }
}

/// An add-checkpoint request to the witness at `url`: its status and body.
async fn add_checkpoint(url: &str, request: &commands::ledger::witness::AddCheckpoint) -> (u16, String) {
    let response =
        reqwest::Client::new().post(format!("{url}/add-checkpoint")).body(request.to_text()).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The cosignatures stored in the database at `url`: size and witness.
async fn stored_cosignatures(url: &str) -> Vec<(i64, String)> {
    let pool = commands::database::application_pool(url, 1).await.unwrap();
    sqlx::query_as("SELECT tree_size, witness FROM ledger_cosignatures ORDER BY tree_size")
        .fetch_all(&pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn at_14_a_witness_cosigns_a_log_that_grew_refuses_a_rewritten_one_and_remembers_across_a_kill() {
    use commands::ledger::witness::AddCheckpoint;
    use commands::ledger::{rows, tree};
    let sealed = sealed().await;
    let verifier = sealed.key.verifier().as_str().to_owned();
    let key_file = sealed.dir.join("witness.key");
    let (status, witness_key) = replay(&["witness-key", "witness.test/w1", "--output", key_file.to_str().unwrap()]);
    assert_eq!(status, 0, "{witness_key}");
    let witness_key = witness_key.trim().to_owned();
    assert!(witness_key.starts_with("witness.test/w1+"), "{witness_key}");
    let (status, _) = replay(&["witness-key", "witness.test/w1", "--output", key_file.to_str().unwrap()]);
    assert_eq!(status, 2, "an existing key file is never overwritten");
    let state = sealed.dir.join("witness-state.json");
    let mut witness = start_witness(&key_file, &verifier, &state);

    // The service's side: each checkpoint handed over is cosigned, the second from a consistency proof.
    let app = commands::database::application_pool(&sealed.database.url, 4).await.unwrap();
    let settings = projections::sealing::witness::Witness {
        url: projections::sealing::HttpUrl::parse(&witness.url).unwrap(),
        key: commands::ledger::witness::WitnessVerifierKey::parse(&witness_key).unwrap(),
    };
    let (newest, checkpoints) = tokio::sync::watch::channel(None);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let asking = tokio::spawn(projections::sealing::witness::run(app.clone(), settings, checkpoints, stopped));
    let checkpoint_of = |size: i64| {
        let app = app.clone();
        async move {
            let stored = rows::checkpoint_covering(&app, size).await.unwrap().unwrap();
            commands::ledger::SignedCheckpoint { head: stored.head().unwrap(), text: stored.note }
        }
    };
    let cosigned = |size: i64| {
        let url = sealed.database.url.clone();
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while stored_cosignatures(&url).await.last().is_none_or(|(last, _)| *last < size) {
                assert!(std::time::Instant::now() < deadline, "no cosignature of checkpoint {size}");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    };
    newest.send_replace(Some(checkpoint_of(3).await));
    cosigned(3).await;
    raise(&app, &["c-4", "c-5"]).await;
    let mut connection = app.acquire().await.unwrap();
    seal_all(&mut connection, 5).await;
    seal::write_checkpoint(&mut connection, &sealed.key, chrono::Utc::now()).await.unwrap();
    newest.send_replace(Some(checkpoint_of(5).await));
    cosigned(5).await;
    stop.send_replace(true);
    asking.await.unwrap();
    let witness_name = "witness.test/w1".to_owned();
    assert_eq!(stored_cosignatures(&sealed.database.url).await, vec![(3, witness_name.clone()), (5, witness_name)]);
    let (status, out) = replay(&[
        "verify",
        "--database-url",
        &sealed.database.url,
        "--verifier-key",
        &verifier,
        "--witness-key",
        &witness_key,
    ]);
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("witness witness.test/w1: 2 cosignatures check; the newest covers 5 entries"), "{out}");

    // A cosignature edited by a superuser no longer checks.
    let owner = sealed.database.owner_pool().await;
    let mut transaction = owner.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica").execute(&mut *transaction).await.unwrap();
    sqlx::query("UPDATE ledger_cosignatures SET signature = replace(signature, 'A', 'B') WHERE tree_size = 3")
        .execute(&mut *transaction)
        .await
        .unwrap();
    transaction.commit().await.unwrap();
    let (status, out) = replay(&[
        "--json",
        "verify",
        "--database-url",
        &sealed.database.url,
        "--verifier-key",
        &verifier,
        "--witness-key",
        &witness_key,
    ]);
    assert_eq!(status, 1, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["witnesses"][0]["bad"][0], 3, "{out}");

    // The witness killed and started again still holds the checkpoint of 5 entries.
    witness.process.kill().unwrap();
    witness.process.wait().unwrap();
    let witness = start_witness(&key_file, &verifier, &state);

    // The same log rewritten: another history under the same seal key, longer than what the witness
    // holds. The witness names what it holds, and no proof from there leads to the rewritten tree.
    let rewritten = sealed_by(sealed.key.clone()).await;
    let other = commands::database::application_pool(&rewritten.database.url, 2).await.unwrap();
    raise(&other, &["r-4", "r-5", "r-6"]).await;
    let mut connection = other.acquire().await.unwrap();
    seal_all(&mut connection, 6).await;
    let forged = seal::write_checkpoint(&mut connection, &sealed.key, chrono::Utc::now()).await.unwrap().unwrap();
    assert_eq!(forged.head.size, 6);
    let from_nothing = AddCheckpoint { old_size: 0, proof: Vec::new(), checkpoint: forged.text.clone() };
    assert_eq!(add_checkpoint(&witness.url, &from_nothing).await, (409, "5\n".to_owned()));
    let wanted = tree::needed(|hashes| tree::consistency_proof(6, 5, hashes));
    let proof = tree::consistency_proof(6, 5, &rows::hashes(&other, &wanted).await.unwrap()).unwrap();
    let (status, body) =
        add_checkpoint(&witness.url, &AddCheckpoint { old_size: 5, proof, checkpoint: forged.text.clone() }).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("does not show that the log only grew from 5 entries to 6"), "{body}");
    // The largest requests: a proof longer than any tree needs is malformed; a body past 64 KiB is not
    // read. Neither changes what the witness holds.
    let long = AddCheckpoint { old_size: 5, proof: vec![[7; 32]; 127], checkpoint: forged.text.clone() };
    assert_eq!(add_checkpoint(&witness.url, &long).await.0, 400);
    let huge = AddCheckpoint { old_size: 5, proof: Vec::new(), checkpoint: "x".repeat(65 * 1024) };
    assert_eq!(add_checkpoint(&witness.url, &huge).await.0, 413);
    let kept: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let held = sealed.key.verifier().open(kept["checkpoint"].as_str().unwrap()).unwrap();
    assert_eq!(held.head, checkpoint_of(5).await.head, "the witness still holds the true log's checkpoint");
    assert!(stored_cosignatures(&rewritten.database.url).await.is_empty());
}

/// Acknowledges the Andon call `call`: its stream's next event.
async fn acknowledge(app: &sqlx::PgPool, call: &str) {
    let store = PgEventStore::<AndonCall>::new(app.clone(), StoreSettings::default());
    let context = CommandContext::new(Actor {
        user_id: UserId::from_uuid(uuid::Uuid::from_u128(8)),
        printed_name: Name::parse("Tom Teamleader").unwrap(),
        role: Role::TeamLeader,
    });
    execute(&store, call, AndonCommand::Acknowledge, &context).await.unwrap();
}

/// The log of `sealed` grown by two entries (c-2 acknowledged, c-4 raised), sealed and checkpointed.
async fn grown(sealed: &Sealed) {
    let app = commands::database::application_pool(&sealed.database.url, 2).await.unwrap();
    acknowledge(&app, "c-2").await;
    raise(&app, &["c-4"]).await;
    let mut connection = app.acquire().await.unwrap();
    seal_all(&mut connection, 5).await;
    seal::write_checkpoint(&mut connection, &sealed.key, chrono::Utc::now()).await.unwrap();
}

#[tokio::test]
async fn rc_02_a_range_export_verifies_alone_and_imports_only_into_the_log_it_continues() {
    let sealed = sealed().await;
    grown(&sealed).await;
    let verifier = sealed.key.verifier().as_str().to_owned();
    let export = |name: &str, url: &str, range: &[&str]| {
        let file = sealed.dir.join(name);
        let mut args = vec!["export", "--database-url", url, "--output", file.to_str().unwrap()];
        args.extend_from_slice(range);
        let (status, out) = replay(&args);
        assert_eq!(status, 0, "{out}");
        file
    };
    let base = export("base.ndjson", &sealed.database.url, &["--up-to", "3"]);
    let range = export("range.ndjson", &sealed.database.url, &["--from", "4"]);
    let (status, out) =
        replay(&["export", "--database-url", &sealed.database.url, "--output", "/dev/null", "--from", "9"]);
    assert_eq!(status, 2, "beyond the log: {out}");

    // The range alone verifies: its first checkpoint vouches for the tree's edge before it.
    let verify_export =
        |file: &std::path::Path| replay(&["verify-export", file.to_str().unwrap(), "--verifier-key", &verifier]);
    let (status, out) = verify_export(&range);
    assert_eq!(status, 0, "{out}");
    assert!(
        out.starts_with("clean: 5 lines, 2 entries from ledger number 4 in 2 streams, 1 checkpoints; the last signed one covers 5 entries"),
        "{out}"
    );
    let text = std::fs::read_to_string(&range).unwrap();
    let mut header: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let edge = header["edge"][0].as_str().unwrap().to_owned();
    header["edge"][0] = serde_json::json!(format!("{}{}", if edge.starts_with('0') { "1" } else { "0" }, &edge[1..]));
    let forged = sealed.dir.join("forged-edge.ndjson");
    std::fs::write(&forged, text.replacen(text.lines().next().unwrap(), &header.to_string(), 1)).unwrap();
    let (status, out) = verify_export(&forged);
    assert_eq!(status, 1, "{out}");
    assert!(out.starts_with("FAILED at line 4: CheckpointMismatch"), "{out}");

    let import = |file: &std::path::Path, url: &str| {
        replay(&["import", file.to_str().unwrap(), "--database-url", url, "--verifier-key", &verifier])
    };
    let scratch = testkit::fresh_database().await;
    let (status, out) = import(&range, &scratch.url);
    assert_eq!(status, 2, "a range is no restore of an empty database: {out}");
    assert!(out.contains("the database is empty and the file starts at ledger number 4"), "{out}");

    // The base, then the range that continues it: the whole log, the same as the original.
    let (status, out) = import(&base, &scratch.url);
    assert_eq!(status, 0, "{out}");
    let app = commands::database::application_pool(&scratch.url, 2).await.unwrap();
    seal_all(&mut app.acquire().await.unwrap(), 3).await;
    let (status, out) = import(&range, &scratch.url);
    assert_eq!(status, 0, "{out}");
    assert!(out.starts_with("imported: 5 lines, 2 entries from ledger number 4 in 4 streams"), "{out}");
    seal_all(&mut app.acquire().await.unwrap(), 5).await;
    let (status, out) = replay(&["verify", "--database-url", &scratch.url, "--verifier-key", &verifier]);
    assert_eq!(status, 0, "{out}");
    assert!(out.starts_with("clean: 5 entries in 4 streams, 2 checkpoints"), "{out}");
    let (_, restored) = replay(&["--json", "log", "--database-url", &scratch.url]);
    let (_, original) = replay(&["--json", "log", "--database-url", &sealed.database.url]);
    let summary = |out: &str| out.lines().last().unwrap().to_owned();
    assert_eq!(summary(&restored), summary(&original), "the same log, digest and all");
    let (status, out) = import(&range, &scratch.url);
    assert_eq!(status, 2, "imported twice: {out}");
    assert!(out.contains("the database holds 5 entries and the file starts at ledger number 4"), "{out}");

    // A range of another log (the same key, another history) does not continue this one.
    let other = sealed_by(sealed.key.clone()).await;
    grown(&other).await;
    let other_range = export("other-range.ndjson", &other.database.url, &["--from", "4"]);
    let second = testkit::fresh_database().await;
    assert_eq!(import(&base, &second.url).0, 0);
    let second_app = commands::database::application_pool(&second.url, 2).await.unwrap();
    seal_all(&mut second_app.acquire().await.unwrap(), 3).await;
    let (status, out) = import(&other_range, &second.url);
    assert_eq!(status, 2, "{out}");
    assert!(out.contains("the file continues another log"), "{out}");
    let held: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&second_app).await.unwrap();
    assert_eq!(held, 3, "nothing imported");
}

#[tokio::test]
async fn rc_02_an_import_killed_midway_stores_nothing_and_stops_holding_appends_back() {
    let sealed = sealed().await;
    let file = sealed.dir.join("backup.ndjson");
    let (status, out) = replay(&["export", "--database-url", &sealed.database.url, "--output", file.to_str().unwrap()]);
    assert_eq!(status, 0, "{out}");
    let scratch = testkit::fresh_database().await;
    let owner = scratch.owner_pool().await;
    // The import stores the file's events, then waits to store its checkpoint: caught in the middle.
    let mut holding = owner.begin().await.unwrap();
    sqlx::query("LOCK TABLE ledger_checkpoints IN SHARE MODE").execute(&mut *holding).await.unwrap();
    let separator = if scratch.url.contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}application_name=ms5-import-killed", scratch.url);
    let verifier = sealed.key.verifier().as_str().to_owned();
    let mut import = Command::new(env!("CARGO_BIN_EXE_ms5-replay"))
        .args(["import", file.to_str().unwrap(), "--database-url", &url, "--verifier-key", &verifier])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let sessions = |waiting: bool| {
        let owner = owner.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM pg_stat_activity a WHERE a.application_name = 'ms5-import-killed'
                 AND (NOT $1 OR EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted))",
            )
            .bind(waiting)
            .fetch_one(&owner)
            .await
            .unwrap()
        }
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while sessions(true).await == 0 {
        assert!(std::time::Instant::now() < deadline, "the import never reached its checkpoint");
        tokio::task::yield_now().await;
    }
    import.kill().unwrap();
    import.wait().unwrap();
    // The server notices the dead client while the statement still waits, so the import's hold on
    // appends goes with it, before the lock it waits on is released.
    while sessions(false).await > 0 {
        assert!(std::time::Instant::now() < deadline, "the killed import's session lived on");
        tokio::task::yield_now().await;
    }
    holding.commit().await.unwrap();
    let app = commands::database::application_pool(&scratch.url, 2).await.unwrap();
    let held: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&app).await.unwrap();
    assert_eq!(held, 0, "a file cut short by a kill imports nothing");
    raise(&app, &["after-the-kill"]).await;
}
