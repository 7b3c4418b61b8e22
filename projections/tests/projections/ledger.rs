//! The ledger (Part 11 AT-15): the sealer, signed checkpoints, proofs, and verification that finds each
//! kind of tampering with a superuser's connection at the right ledger number, each next to an untouched
//! control that verifies clean.

use std::time::{Duration, Instant};

use commands::ledger::proof::{ProofError, prove_consistency, prove_event};
use commands::ledger::seal::write_checkpoint;
use commands::ledger::verify::{FaultKind, Verification, verify};
use commands::ledger::{SealKey, VerifierKey, rows, tree};
use projections::sealing::Sealer;

use crate::support::{DEADLINE, Fixture, fixture, produce, running_job};

fn key() -> SealKey {
    SealKey::parse(&SealKey::generate("ms5-floor/test").unwrap()).unwrap()
}

/// Two jobs with production, interleaved: 4 + 4 events, then 3 productions each (14 events), sealed and
/// checkpointed. Returns the jobs.
async fn sealed_log(fixture: &Fixture, key: &SealKey) -> (String, String) {
    let store = fixture.jobs();
    let first = running_job(&store).await;
    let second = running_job(&store).await;
    for round in 1..=3 {
        produce(&store, &first, round * 10, 0).await;
        produce(&store, &second, round * 100, 1).await;
    }
    seal_and_sign(fixture, key).await;
    (first, second)
}

async fn seal_and_sign(fixture: &Fixture, key: &SealKey) {
    fixture.caught_up(&Sealer).await;
    write_checkpoint(&mut fixture.connection().await, key, chrono::Utc::now()).await.unwrap();
}

async fn verified(fixture: &Fixture, key: &VerifierKey, external: Option<&str>) -> Verification {
    verify(&fixture.app, key, external).await.unwrap()
}

/// Waits until a checkpoint of at least `size` entries is signed.
async fn signed(fixture: &Fixture, size: i64) {
    let deadline = Instant::now() + DEADLINE;
    while rows::latest_checkpoint(&fixture.app).await.unwrap().is_none_or(|latest| latest.tree_size < size) {
        assert!(Instant::now() < deadline, "no checkpoint of size {size}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `statements` as the superuser with every trigger off, as an attacker with the database's keys.
async fn tamper(fixture: &Fixture, statements: &[&str]) {
    let mut transaction = fixture.owner.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica").execute(&mut *transaction).await.unwrap();
    for statement in statements {
        sqlx::query(statement).execute(&mut *transaction).await.unwrap();
    }
    transaction.commit().await.unwrap();
}

async fn ledger_number_of(fixture: &Fixture, job: &str, sequence: i64) -> u64 {
    let number: i64 = sqlx::query_scalar(
        "SELECT l.ledger_number FROM ledger l JOIN events e ON e.position = l.position
         WHERE e.aggregate_id = $1 AND e.sequence = $2",
    )
    .bind(job)
    .bind(sequence)
    .fetch_one(&fixture.owner)
    .await
    .unwrap();
    u64::try_from(number).unwrap()
}

/// The fault's kind and ledger number.
fn fault(verification: &Verification) -> (FaultKind, Option<u64>) {
    let fault = verification.fault.as_ref().unwrap_or_else(|| panic!("verification is clean: {verification:?}"));
    (fault.kind, fault.ledger_number)
}

#[tokio::test]
async fn at_15_every_event_gets_a_dense_ledger_number_in_commit_order_and_the_untouched_log_verifies_clean() {
    let fixture = fixture().await;
    let key = key();
    sealed_log(&fixture, &key).await;
    let sealed: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT l.ledger_number, e.position FROM ledger l JOIN events e ON e.position = l.position
         ORDER BY l.ledger_number",
    )
    .fetch_all(&fixture.owner)
    .await
    .unwrap();
    let in_commit_order: Vec<i64> = sqlx::query_scalar("SELECT position FROM events ORDER BY transaction_id, position")
        .fetch_all(&fixture.owner)
        .await
        .unwrap();
    assert_eq!(sealed.iter().map(|(number, _)| *number).collect::<Vec<_>>(), (1..=14).collect::<Vec<i64>>());
    assert_eq!(sealed.iter().map(|(_, position)| *position).collect::<Vec<_>>(), in_commit_order);

    let report = verified(&fixture, key.verifier(), None).await;
    assert!(report.is_clean(), "{report:?}");
    assert_eq!((report.entries_checked, report.streams, report.checkpoints_checked), (14, 2, 1));
    assert_eq!((report.newest_checkpoint, report.unsealed_events), (Some(14), 0));
}

#[tokio::test]
async fn at_15_a_proof_file_checks_offline_for_its_event_only_and_with_the_right_key_only() {
    let fixture = fixture().await;
    let key = key();
    sealed_log(&fixture, &key).await;
    for number in 1..=14 {
        let proof = prove_event(&fixture.app, number).await.unwrap();
        // Through its file form, as an auditor receives it.
        let file = serde_json::to_string(&proof).unwrap();
        let read: commands::ledger::proof::EventProof = serde_json::from_str(&file).unwrap();
        assert_eq!(read.check(key.verifier()).unwrap().size, 14, "ledger number {number}");
    }
    let proof = prove_event(&fixture.app, 7).await.unwrap();
    let mut altered = proof.clone();
    altered.event.payload =
        serde_json::json!({"good": 999_999, "reject": 0, "reject_reason": null, "at": "2026-01-01T00:00:00Z"});
    assert_eq!(altered.check(key.verifier()), Err(ProofError::NotIncluded));
    let mut moved = proof.clone();
    moved.ledger_number = 8;
    assert_eq!(moved.check(key.verifier()), Err(ProofError::NotIncluded));
    assert!(matches!(proof.check(self::key().verifier()), Err(ProofError::Checkpoint(_))), "another key");
}

/// A keeper on 127.0.0.1 that answers the first `refused` requests 503 and keeps the bodies of the rest:
/// its URL and what it kept.
async fn keeper(refused: usize) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/checkpoints", listener.local_addr().unwrap());
    let kept = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keeping = kept.clone();
    tokio::spawn(async move {
        for request in 1.. {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let mut received = Vec::new();
            let mut chunk = [0u8; 4096];
            let body = loop {
                let read = socket.read(&mut chunk).await.unwrap_or(0);
                received.extend_from_slice(&chunk[..read]);
                let text = String::from_utf8_lossy(&received).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|line| {
                            line.to_ascii_lowercase().strip_prefix("content-length:").map(|n| n.trim().to_owned())
                        })
                        .and_then(|n| n.parse::<usize>().ok())
                        .unwrap_or(0);
                    if body.len() >= length || read == 0 {
                        break body.to_owned();
                    }
                } else if read == 0 {
                    break String::new();
                }
            };
            let status = if request <= refused { "503 Service Unavailable" } else { "200 OK" };
            if request > refused {
                keeping.lock().unwrap().push(body);
            }
            let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            socket.write_all(answer.as_bytes()).await.ok();
        }
    });
    (url, kept)
}

#[tokio::test]
async fn at_15_each_new_checkpoint_reaches_a_keeper_by_http_even_after_the_keeper_refused_one() {
    let fixture = fixture().await;
    let key = key();
    let (url, kept) = keeper(1).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let settings = projections::sealing::checkpoints::Settings {
        key: key.clone(),
        interval: Duration::from_millis(100),
        directory: None,
        keeper: Some(projections::sealing::HttpUrl::parse(&url).unwrap()),
        witness: None,
    };
    let writer = tokio::spawn(projections::sealing::checkpoints::run(fixture.app.clone(), settings, stopped));
    let store = fixture.jobs();
    for size in [4, 8] {
        running_job(&store).await;
        fixture.caught_up(&Sealer).await;
        signed(&fixture, size).await;
    }
    let deadline = Instant::now() + DEADLINE;
    let newest = loop {
        let newest = kept.lock().unwrap().last().cloned();
        if let Some(text) = newest.filter(|text| key.verifier().open(text).is_ok_and(|kept| kept.head.size == 8)) {
            break text;
        }
        assert!(Instant::now() < deadline, "the keeper never got the checkpoint of 8 entries");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    stop.send(true).unwrap();
    writer.await.unwrap();
    let stored = rows::latest_checkpoint(&fixture.app).await.unwrap().unwrap();
    assert_eq!(stored.tree_size, 8, "checkpointing went on while the keeper refused");
    assert!(newest.starts_with("ms5-floor/test\n8\n"), "the checkpoint's own text: {newest}");
    assert!(projections::sealing::HttpUrl::parse("https://keeper.example/").is_err(), "no TLS here");
}

#[tokio::test]
async fn at_15_checkpoints_are_signed_while_events_arrive_each_consistent_with_the_next_and_kept_in_a_directory() {
    let fixture = fixture().await;
    let key = key();
    let directory = std::env::temp_dir().join(format!("ms5-checkpoints-{}", uuid::Uuid::now_v7()));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let settings = projections::sealing::checkpoints::Settings {
        key: key.clone(),
        interval: Duration::from_millis(100),
        directory: Some(directory.clone()),
        keeper: None,
        witness: None,
    };
    let writer = tokio::spawn(projections::sealing::checkpoints::run(fixture.app.clone(), settings, stopped));
    let store = fixture.jobs();
    let mut sizes = Vec::new();
    for _ in 0..3 {
        running_job(&store).await;
        fixture.caught_up(&Sealer).await;
        let size = rows::size(&fixture.app).await.unwrap();
        signed(&fixture, i64::try_from(size).unwrap()).await;
        sizes.push(size);
    }
    stop.send(true).unwrap();
    writer.await.unwrap();
    assert_eq!(sizes, [4, 8, 12]);
    for pair in sizes.windows(2) {
        let proven = prove_consistency(&fixture.app, pair[0], pair[1]).await.unwrap();
        let (old, new) =
            (key.verifier().open(&proven.old.text).unwrap(), key.verifier().open(&proven.new.text).unwrap());
        tree::check_consistency(&proven.proof, &new.head, &old.head).unwrap();
    }
    for size in sizes {
        let kept = std::fs::read_to_string(directory.join(format!("{size}.checkpoint"))).unwrap();
        assert_eq!(key.verifier().open(&kept).unwrap().head.size, size);
    }
    std::fs::remove_dir_all(&directory).ok();
}

#[tokio::test]
async fn at_15_one_byte_of_a_payload_changed_is_found_at_its_ledger_number() {
    let fixture = fixture().await;
    let key = key();
    let (first, _) = sealed_log(&fixture, &key).await;
    assert!(verified(&fixture, key.verifier(), None).await.is_clean());
    // The first job's first production: good 10 becomes 11.
    let target = ledger_number_of(&fixture, &first, 5).await;
    tamper(
        &fixture,
        &[&format!(
            "UPDATE events SET payload = jsonb_set(payload, '{{good}}', '11') WHERE aggregate_id = '{first}' AND sequence = 5"
        )],
    )
    .await;
    assert_eq!(fault(&verified(&fixture, key.verifier(), None).await), (FaultKind::ChainBroken, Some(target)));
}

#[tokio::test]
async fn at_15_a_deleted_middle_event_is_found_at_its_ledger_number() {
    let fixture = fixture().await;
    let key = key();
    let (first, _) = sealed_log(&fixture, &key).await;
    assert!(verified(&fixture, key.verifier(), None).await.is_clean());
    let target = ledger_number_of(&fixture, &first, 6).await;
    tamper(&fixture, &[&format!("DELETE FROM events WHERE aggregate_id = '{first}' AND sequence = 6")]).await;
    assert_eq!(fault(&verified(&fixture, key.verifier(), None).await), (FaultKind::EventMissing, Some(target)));
}

#[tokio::test]
async fn at_15_the_newest_events_deleted_with_their_ledger_and_checkpoints_fail_against_an_exported_checkpoint() {
    let fixture = fixture().await;
    let key = key();
    sealed_log(&fixture, &key).await;
    let exported = rows::latest_checkpoint(&fixture.app).await.unwrap().unwrap().note;
    assert!(verified(&fixture, key.verifier(), Some(&exported)).await.is_clean(), "the control");
    tamper(
        &fixture,
        &[
            "DELETE FROM events WHERE position IN (SELECT position FROM ledger WHERE ledger_number > 11)",
            "DELETE FROM ledger WHERE ledger_number > 11",
            "DELETE FROM ledger_checkpoints",
        ],
    )
    .await;
    let without = verified(&fixture, key.verifier(), None).await;
    assert!(without.is_clean(), "inside the database alone a clean cut is invisible: {without:?}");
    assert_eq!(fault(&verified(&fixture, key.verifier(), Some(&exported)).await), (FaultKind::Truncated, Some(12)));
}

#[tokio::test]
async fn at_15_two_events_swapped_are_found_at_the_first_of_them() {
    let fixture = fixture().await;
    let key = key();
    let (_, second) = sealed_log(&fixture, &key).await;
    assert!(verified(&fixture, key.verifier(), None).await.is_clean());
    let target = ledger_number_of(&fixture, &second, 5).await;
    tamper(
        &fixture,
        &[&format!(
            "UPDATE events e SET payload = o.payload FROM events o
             WHERE e.aggregate_id = '{second}' AND o.aggregate_id = '{second}'
               AND ((e.sequence = 5 AND o.sequence = 6) OR (e.sequence = 6 AND o.sequence = 5))"
        )],
    )
    .await;
    assert_eq!(fault(&verified(&fixture, key.verifier(), None).await), (FaultKind::ChainBroken, Some(target)));
}

#[tokio::test]
async fn at_15_a_stream_rewritten_with_its_chain_recomputed_is_found_where_the_rewrite_starts() {
    let fixture = fixture().await;
    let key = key();
    let (first, _) = sealed_log(&fixture, &key).await;
    assert!(verified(&fixture, key.verifier(), None).await.is_clean());
    let target = ledger_number_of(&fixture, &first, 5).await;
    // The attacker changes a count and recomputes every later stream hash, so the chain holds.
    let mut events =
        commands::event_log::read_stream(&fixture.app, "job", &first, commands::event_log::StreamBound::All)
            .await
            .unwrap();
    events[4].payload["good"] = serde_json::json!(11);
    let mut previous = Some(events[3].stream_hash.clone().try_into().unwrap());
    let mut statements = Vec::new();
    for event in &events[4..] {
        let hash = event.recompute_hash(previous.as_ref());
        statements.push(format!(
            "UPDATE events SET payload = '{}', stream_hash = '\\x{}' WHERE position = {}",
            event.payload,
            hex::encode(hash),
            event.position
        ));
        previous = Some(hash);
    }
    tamper(&fixture, &statements.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let rewritten =
        commands::event_log::read_stream(&fixture.app, "job", &first, commands::event_log::StreamBound::All)
            .await
            .unwrap();
    assert_eq!(commands::event_log::verify_stream(&rewritten), Ok(()), "the stream's own chain holds");
    assert_eq!(fault(&verified(&fixture, key.verifier(), None).await), (FaultKind::LeafMismatch, Some(target)));
}

#[tokio::test]
async fn at_15_a_whole_stream_deleted_is_found_at_its_first_ledger_number() {
    let fixture = fixture().await;
    let key = key();
    let (_, second) = sealed_log(&fixture, &key).await;
    assert!(verified(&fixture, key.verifier(), None).await.is_clean());
    let target = ledger_number_of(&fixture, &second, 1).await;
    tamper(&fixture, &[&format!("DELETE FROM events WHERE aggregate_id = '{second}'")]).await;
    assert_eq!(fault(&verified(&fixture, key.verifier(), None).await), (FaultKind::EventMissing, Some(target)));
}

#[tokio::test]
async fn at_15_an_older_copy_of_the_events_table_restored_is_found_at_the_first_event_it_lacks() {
    let fixture = fixture().await;
    let key = key();
    let (first, _) = sealed_log(&fixture, &key).await;
    tamper(&fixture, &["CREATE TABLE events_copy AS SELECT * FROM events"]).await;
    produce(&fixture.jobs(), &first, 5, 0).await;
    seal_and_sign(&fixture, &key).await;
    assert!(verified(&fixture, key.verifier(), None).await.is_clean());
    tamper(&fixture, &["DELETE FROM events", "INSERT INTO events OVERRIDING SYSTEM VALUE SELECT * FROM events_copy"])
        .await;
    assert_eq!(fault(&verified(&fixture, key.verifier(), None).await), (FaultKind::EventMissing, Some(15)));
}

#[tokio::test]
async fn at_15_an_edited_checkpoint_is_found_by_its_signature() {
    let fixture = fixture().await;
    let key = key();
    sealed_log(&fixture, &key).await;
    assert!(verified(&fixture, key.verifier(), None).await.is_clean());
    // The size line says 13 instead of 14.
    tamper(&fixture, &["UPDATE ledger_checkpoints SET note = regexp_replace(note, E'\\n14\\n', E'\\n13\\n')"]).await;
    let (kind, _) = fault(&verified(&fixture, key.verifier(), None).await);
    assert_eq!(kind, FaultKind::BadCheckpointSignature);
}

#[tokio::test]
async fn at_05_the_application_cannot_change_or_remove_the_ledger() {
    let fixture = fixture().await;
    let key = key();
    sealed_log(&fixture, &key).await;
    for statement in [
        "UPDATE ledger SET leaf_hash = leaf_hash",
        "DELETE FROM ledger_hashes",
        "UPDATE ledger_checkpoints SET note = note",
        "TRUNCATE ledger_checkpoints",
    ] {
        let refused = sqlx::query(statement).execute(&fixture.app).await.unwrap_err();
        let code = refused.as_database_error().and_then(|error| error.code()).unwrap_or_default().into_owned();
        assert_eq!(code, "42501", "{statement}: insufficient privilege");
    }
    assert!(verified(&fixture, key.verifier(), None).await.is_clean());
}

#[tokio::test]
async fn at_15_a_checkpoint_is_signed_when_a_shift_ends_long_before_the_interval_would_sign_one() {
    use chrono::Timelike;
    use domain::line::{LineCommand, ShiftDefinition};

    let fixture = fixture().await;
    let key = key();
    let lines = commands::PgEventStore::<domain::line::Line>::new(fixture.app.clone(), Default::default());
    let now = chrono::Utc::now();
    let time = |at: chrono::DateTime<chrono::Utc>| {
        chrono::NaiveTime::from_hms_opt(at.hour(), at.minute(), at.second()).unwrap()
    };
    // A shift that ends three seconds from now, on a line in UTC.
    let shift = ShiftDefinition {
        name: domain::values::ShiftName::parse("early").unwrap(),
        start: time(now - chrono::Duration::hours(1)),
        end: time(now + chrono::Duration::seconds(3)),
        breaks: Vec::new(),
        days: domain::line::Weekdays::default(),
    };
    let line = "plant-1/packing/L3";
    let setup = [
        LineCommand::Register {
            line: domain::line_id::LineId::parse(line).unwrap(),
            name: domain::values::Name::parse("L3").unwrap(),
            time_zone: chrono_tz::UTC,
        },
        LineCommand::SetShiftCalendar {
            shifts: vec![shift],
            effective_from: now - chrono::Duration::days(2),
            reason: None,
        },
    ];
    for command in setup {
        commands::execute(&lines, line, command, &crate::support::context()).await.unwrap();
    }
    fixture.caught_up(&Sealer).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let settings = projections::sealing::checkpoints::Settings {
        key,
        interval: Duration::from_secs(3600),
        directory: None,
        keeper: None,
        witness: None,
    };
    let writer = tokio::spawn(projections::sealing::checkpoints::run(fixture.app.clone(), settings, stopped));
    signed(&fixture, 2).await;
    running_job(&fixture.jobs()).await;
    fixture.caught_up(&Sealer).await;
    // The interval is an hour away; the shift's end signs the next checkpoint.
    signed(&fixture, 6).await;
    stop.send(true).unwrap();
    writer.await.unwrap();
}
