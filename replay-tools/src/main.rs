//! `ms5-replay`: tools for auditors and admins. Exit status 0 only when what was checked is clean (or
//! the work is done); 1 when it is not; 2 when the check could not be made (bad arguments, no database,
//! an unknown read model); 141, silently, when whoever read the output closed it first (`| head`). Each subcommand is a function of the library; this file parses and prints.

use std::io::{IsTerminal as _, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use commands::ledger::log_file::FileVerification;
use commands::ledger::witness::WitnessKey;
use replay_tools::{Database, backup, export, keys, log, rebuild, record, verify, witness};

#[derive(Debug, Parser)]
#[command(version, about = "MS5 Floor tools for auditors and admins")]
struct Cli {
    /// Print what was found as JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replay one record: its events one by one with who, when, why and what each changed, and its
    /// state as of the end, a sequence number or an instant.
    Record {
        /// The stored record type: job, downtime, andon, checklist, checklist_template, line, user, device.
        record_type: String,
        record_id: String,
        #[command(flatten)]
        database: Database,
        /// Replay up to and including this sequence number.
        #[arg(long, conflicts_with = "at")]
        sequence: Option<u64>,
        /// Replay what was recorded up to this instant (RFC 3339).
        #[arg(long)]
        at: Option<DateTime<Utc>>,
        /// Also say what changed between this instant (RFC 3339) and the end of the replay.
        #[arg(long)]
        since: Option<DateTime<Utc>>,
    },
    /// Replay the log in commit order (the sealed events, in ledger order), streaming, ending with a
    /// count and a digest that the same selection of the same log always gives.
    Log {
        #[command(flatten)]
        database: Database,
        /// The first ledger number.
        #[arg(long)]
        from: Option<u64>,
        /// The last ledger number (default: the last sealed when the replay starts).
        #[arg(long)]
        to: Option<u64>,
        /// Only events recorded at or after this instant (RFC 3339).
        #[arg(long)]
        since: Option<DateTime<Utc>>,
        /// Only events recorded at or before this instant (RFC 3339).
        #[arg(long)]
        until: Option<DateTime<Utc>>,
        /// Only events of this stored record type (job, downtime, ...).
        #[arg(long)]
        record_type: Option<String>,
        /// Only the records of this line (e.g. plant-1/packing/L3): the line, its jobs, stops, Andon
        /// calls, checklist templates and checklists.
        #[arg(long)]
        line: Option<String>,
    },
    /// Rebuild a read model blue/green (jobs, downtime, andon, oee, audit_trail), with the service
    /// running or not: queries read the old version until the rebuilt one replaces it in one switch.
    Rebuild {
        read_model: String,
        #[command(flatten)]
        database: Database,
        /// Why: mandatory, kept with the read model's record.
        #[arg(long)]
        reason: String,
        /// Only ask for the rebuild; the service's rebuild worker carries it out.
        #[arg(long)]
        no_wait: bool,
    },
    /// Recompute a read model from the events beside the live one and report the rows that differ
    /// (exit 0 when none, 1 otherwise); the recomputation is emptied afterwards and never read.
    Compare {
        read_model: String,
        #[command(flatten)]
        database: Database,
        /// Why: kept with the read model's record (the recomputation replaces its previous version).
        #[arg(long)]
        reason: String,
    },
    /// The read models: which schema queries read, and a running rebuild's progress.
    Status {
        #[command(flatten)]
        database: Database,
    },
    /// Check one event's proof file offline: its checkpoint's signature and its inclusion proof.
    VerifyProof {
        /// The proof file (`GET /api/v1/ledger/proofs/{ledger_number}`).
        file: PathBuf,
        /// The verifier key (`name+id+key`), or a file holding it.
        #[arg(long, env = "MS5_VERIFIER_KEY")]
        verifier_key: String,
    },
    /// Verify the whole log in a database: every stream's chain, the ledger's tree, every checkpoint.
    Verify {
        #[command(flatten)]
        database: Database,
        /// The verifier key (`name+id+key`), or a file holding it.
        #[arg(long, env = "MS5_VERIFIER_KEY")]
        verifier_key: String,
        /// A signed checkpoint kept outside the database: the log must still extend it.
        #[arg(long)]
        external_checkpoint: Option<PathBuf>,
        /// A witness's verifier key (or a file holding it): its stored cosignatures must check.
        /// Repeatable.
        #[arg(long)]
        witness_key: Vec<String>,
    },
    /// Export the event log to a portable file (NDJSON in ledger order, with the signed checkpoints).
    Export {
        #[command(flatten)]
        database: Database,
        /// The file to write; it must not exist yet.
        #[arg(long)]
        output: PathBuf,
        /// The first ledger number to export (default 1). A file that starts later holds the edge of
        /// the tree before it: it verifies alone, and imports into a database whose log it continues.
        #[arg(long)]
        from: Option<u64>,
        /// The last ledger number to export (default: every entry sealed when the export starts).
        #[arg(long)]
        up_to: Option<u64>,
    },
    /// The scheduled backup: verify the log in the database against the newest checkpoint kept in
    /// --checkpoints, export it to a new file in --directory, verify the file, and keep its newest
    /// signed checkpoint in --checkpoints for the next run. Exit 1, with no new backup, when anything
    /// fails to verify.
    Backup {
        #[command(flatten)]
        database: Database,
        /// The directory of the export files (`ms5-log-<UTC time>.ndjson`).
        #[arg(long, env = "MS5_BACKUP_DIR")]
        directory: PathBuf,
        /// The directory of the kept checkpoints: on other storage than --directory.
        #[arg(long, env = "MS5_BACKUP_CHECKPOINT_DIR")]
        checkpoints: PathBuf,
        /// The verifier key (`name+id+key`), or a file holding it.
        #[arg(long, env = "MS5_VERIFIER_KEY")]
        verifier_key: String,
    },
    /// Restore an export file into an empty database, or into one whose log the file continues (an
    /// export `--from` its next ledger number), verifying it as `verify-export` does; nothing is stored
    /// unless the whole file verifies. The service seals the events again to the same ledger numbers and
    /// rebuilds every read model.
    Import {
        file: PathBuf,
        #[command(flatten)]
        database: Database,
        /// The verifier key (`name+id+key`), or a file holding it.
        #[arg(long, env = "MS5_VERIFIER_KEY")]
        verifier_key: String,
    },
    /// Run a witness: cosign the log's checkpoints over HTTP (C2SP tlog-witness, `POST /add-checkpoint`)
    /// when, and only when, each extends the last one it accepted, kept in its state file.
    Witness {
        /// The witness's private key (`ms5-replay witness-key`).
        #[arg(long)]
        key_file: PathBuf,
        /// The verifier key of the log followed (`name+id+key`), or a file holding it.
        #[arg(long, env = "MS5_VERIFIER_KEY")]
        log_key: String,
        /// Where the witness keeps the last checkpoint it accepted.
        #[arg(long)]
        state: PathBuf,
        #[arg(long, default_value = "127.0.0.1:7380")]
        listen: std::net::SocketAddr,
    },
    /// Make a seal key, which signs the ledger's checkpoints (`MS5_SEAL_KEY_FILE`): the private key is
    /// written to a new file (mode 0600), the verifier key, which API processes and auditors are given,
    /// is printed.
    SealKey {
        /// The checkpoints' origin (no spaces, no `+`), one per site or database, e.g. `ms5-floor/plant-1`.
        name: String,
        /// The file for the private key; it must not exist yet.
        #[arg(long)]
        output: PathBuf,
    },
    /// Make a witness key: the private key is written to a new file (mode 0600), the verifier key, which
    /// the service and auditors are given, is printed.
    WitnessKey {
        /// The witness's name (no spaces, no `+`), e.g. `witness.example.org/plant-1`.
        name: String,
        /// The file for the private key; it must not exist yet.
        #[arg(long)]
        output: PathBuf,
    },
    /// Verify an export file offline, with the verifier key alone: every chain, the tree, every
    /// checkpoint where it stands, the trailer; the first bad line is named.
    VerifyExport {
        file: PathBuf,
        /// The verifier key (`name+id+key`), or a file holding it.
        #[arg(long, env = "MS5_VERIFIER_KEY")]
        verifier_key: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    // The service's own configuration file, when there is one (`NAME=value` lines, as `ms5-floor`
    // reads them): `DATABASE_URL` and the rest then need not be repeated. The environment wins over it.
    if let Some(file) = std::env::var_os("MS5_CONFIG_FILE")
        && let Err(error) = dotenvy::from_path(&file)
    {
        eprintln!("ms5-replay: reading MS5_CONFIG_FILE {}: {error}", file.to_string_lossy());
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    match run(&cli).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        // Whoever read the output stopped reading (`| head`): end quietly, as a tool killed by SIGPIPE.
        Err(error) if closed_output(&error) => ExitCode::from(141),
        Err(error) => {
            eprintln!("ms5-replay: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn closed_output(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Whether what was checked is clean.
async fn run(cli: &Cli) -> anyhow::Result<bool> {
    match &cli.command {
        Command::Record { record_type, record_id, database, sequence, at, since } => {
            let until = match (sequence, at) {
                (Some(sequence), _) => record::Until::Sequence(*sequence),
                (None, Some(at)) => record::Until::Time(*at),
                (None, None) => record::Until::End,
            };
            let replayed = record::replay(database, record_type, record_id, until, *since).await?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&replayed)?);
            } else {
                print_replay(&replayed)?;
            }
            Ok(replayed.chain_verified)
        }
        Command::Log { database, from, to, since, until, record_type, line } => {
            let selection = log::Selection {
                from_ledger: *from,
                to_ledger: *to,
                since: *since,
                until: *until,
                record_type: record_type.clone(),
                line: line.clone(),
            };
            // Progress on the terminal only while what is replayed goes elsewhere (a file, a pipe).
            let bar = replay_tools::progress_bar(cli.json || std::io::stdout().is_terminal(), "replaying".into())?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let json = cli.json;
            let summary = log::replay(
                database,
                &selection,
                |event| {
                    if json {
                        serde_json::to_writer(&mut out, event)?;
                        writeln!(out)?;
                    } else {
                        writeln!(
                            out,
                            "{} {}/{} #{} {} {} by {}",
                            event.ledger_number,
                            event.aggregate_type,
                            event.aggregate_id,
                            event.sequence,
                            event.event_type,
                            event.recorded_at.to_rfc3339(),
                            event.metadata["actor_name"].as_str().unwrap_or("-")
                        )?;
                    }
                    Ok(())
                },
                &mut |done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                },
            )
            .await;
            bar.finish_and_clear();
            let summary = summary?;
            if json {
                serde_json::to_writer(&mut out, &summary)?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "replayed {} events up to ledger number {}; digest {}",
                    summary.count, summary.up_to, summary.digest
                )?;
            }
            out.flush()?;
            Ok(true)
        }
        Command::Rebuild { read_model, database, reason, no_wait } => {
            let rebuilt = rebuild::rebuild(database, read_model, reason, !no_wait, cli.json).await?;
            match (cli.json, rebuilt) {
                (true, rebuilt) => println!("{}", serde_json::to_string_pretty(&rebuilt)?),
                (false, Some(rebuilt)) => println!(
                    "{} rebuilt from {} events; queries read {}",
                    read_model, rebuilt.events_applied, rebuilt.schema
                ),
                (false, None) => println!("{read_model}: rebuild requested"),
            }
            Ok(true)
        }
        Command::Compare { read_model, database, reason } => {
            let compared = rebuild::compare(database, read_model, reason).await?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&compared)?);
            } else if compared.differences.is_empty() {
                println!("{read_model}: the read model is what the events make of it");
            } else {
                for difference in &compared.differences {
                    println!(
                        "{read_model}.{}: {} rows only in the read model, {} only in the recomputation",
                        difference.table, difference.only_live, difference.only_recomputed
                    );
                    for example in &difference.examples {
                        println!("    {example}");
                    }
                }
            }
            Ok(compared.differences.is_empty())
        }
        Command::Status { database } => {
            let status = rebuild::status(database).await?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                for worker in &status {
                    let schema = worker.schema.map_or_else(String::new, |schema| format!(" in {schema}"));
                    let owner = worker.owner.as_ref().map_or("no instance", |owner| owner.application_name.as_str());
                    let state = match &worker.error {
                        Some(error) => format!("STOPPED at {}: {error}", worker.failed_position.unwrap_or_default()),
                        None => "running".to_owned(),
                    };
                    println!(
                        "{}{schema}: version {}, {} events applied, {} behind ({:.1} s), {:.0} events/s, run by {owner}; {state}",
                        worker.name,
                        worker.version,
                        worker.events_applied,
                        worker.lag_events,
                        worker.lag_seconds,
                        worker.events_per_second,
                    );
                }
            }
            Ok(true)
        }
        Command::VerifyProof { file, verifier_key } => {
            let report = verify::proof_file(file, &verify::verifier_key(verifier_key)?)?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else if report.valid {
                println!(
                    "valid: ledger number {} ({}) is in the signed checkpoint of {} entries",
                    report.ledger_number,
                    report.record,
                    report.checkpoint_size.unwrap_or_default()
                );
            } else {
                println!("INVALID: {} ({})", report.error.as_deref().unwrap_or("unknown"), report.record);
            }
            Ok(report.valid)
        }
        Command::Verify { database, verifier_key, external_checkpoint, witness_key } => {
            let key = verify::verifier_key(verifier_key)?;
            let witnesses =
                witness_key.iter().map(|given| verify::witness_key(given)).collect::<Result<Vec<_>, _>>()?;
            let verified = verify::database(database, &key, external_checkpoint.as_deref(), &witnesses).await?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&verified)?);
                return Ok(verified.is_clean());
            }
            print_verified(&verified);
            Ok(verified.is_clean())
        }
        Command::Export { database, output, from, up_to } => {
            let exported = export::to_file(database, output, (*from, *up_to), cli.json).await?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&exported)?);
            } else {
                println!(
                    "exported {} entries and {} checkpoints to {}; sha256 {}",
                    exported.entries,
                    exported.checkpoints,
                    output.display(),
                    exported.sha256
                );
            }
            Ok(true)
        }
        Command::Backup { database, directory, checkpoints, verifier_key } => {
            let places = backup::Places { exports: directory, checkpoints };
            let done = backup::run(database, &places, &verify::verifier_key(verifier_key)?, cli.json).await?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&done)?);
            } else {
                print_backup(&done);
            }
            Ok(done.is_done())
        }
        Command::Import { file, database, verifier_key } => {
            let report = export::import(database, file, &verify::verifier_key(verifier_key)?, cli.json).await?;
            print_file_report(cli.json, &report, "imported")?;
            Ok(report.is_clean())
        }
        Command::Witness { key_file, log_key, state, listen } => {
            let key = std::fs::read_to_string(key_file).with_context(|| format!("reading {}", key_file.display()))?;
            witness::serve(witness::Settings {
                key: WitnessKey::parse(&key).context("the witness key")?,
                log: verify::verifier_key(log_key)?,
                state: state.clone(),
                listen: *listen,
            })
            .await?;
            Ok(true)
        }
        Command::SealKey { name, output } => print_new_key(cli.json, &keys::new_seal_key(name, output)?, output),
        Command::WitnessKey { name, output } => print_new_key(cli.json, &witness::new_key(name, output)?, output),
        Command::VerifyExport { file, verifier_key } => {
            let report = export::verify_file(file, &verify::verifier_key(verifier_key)?, cli.json).await?;
            print_file_report(cli.json, &report, "clean")?;
            Ok(report.is_clean())
        }
    }
}

/// A replay as text: a line per event, its changes indented, then the state.
fn print_replay(replayed: &record::Replay) -> anyhow::Result<()> {
    let text = |value: &serde_json::Value, key: &str| value[key].as_str().unwrap_or("-").to_owned();
    for step in &replayed.steps {
        let (who, role, reason) =
            (text(&step.metadata, "actor_name"), text(&step.metadata, "actor_role"), text(&step.metadata, "reason"));
        println!(
            "#{} {} {} by {who} ({role}); reason: {reason}",
            step.sequence,
            step.recorded_at.to_rfc3339(),
            step.event_type
        );
        for change in &step.changes {
            println!("    {}: {} -> {}", change.field, change.old, change.new);
        }
    }
    if let Some(changes) = &replayed.changed_since {
        println!("changed since then:");
        for change in changes {
            println!("    {}: {} -> {}", change.field, change.old, change.new);
        }
    }
    println!("{}/{} at version {}:", replayed.record_type, replayed.record_id, replayed.version);
    println!("{}", serde_json::to_string_pretty(&replayed.state)?);
    if !replayed.chain_verified {
        println!("THE HASH CHAIN OF THESE EVENTS DOES NOT VERIFY: run `ms5-replay verify`");
    }
    Ok(())
}

/// A new key's verifier key, and with --json where its private key went.
fn print_new_key(json: bool, verifier: &str, output: &std::path::Path) -> anyhow::Result<bool> {
    if json {
        println!("{}", serde_json::json!({ "verifier_key": verifier, "private_key_file": output }));
    } else {
        println!("{verifier}");
    }
    Ok(true)
}

/// What verifying the log in a database found, as text.
fn print_verified(verified: &verify::Verified) {
    let log = &verified.log;
    if let Some(fault) = &log.fault {
        let at = fault.ledger_number.map_or_else(String::new, |number| format!(" at ledger number {number}"));
        println!("FAILED{at}: {:?}: {}", fault.kind, fault.detail);
    } else {
        println!(
            "clean: {} entries in {} streams, {} checkpoints; {} entries after the newest checkpoint, {} events not sealed yet",
            log.entries_checked,
            log.streams,
            log.checkpoints_checked,
            log.entries_after_newest_checkpoint,
            log.unsealed_events
        );
    }
    for witness in &verified.witnesses {
        match &witness.bad {
            Some((size, why)) => {
                println!("witness {}: BAD cosignature of checkpoint {size}: {why}", witness.witness)
            }
            None => println!(
                "witness {}: {} cosignatures check; the newest covers {}",
                witness.witness,
                witness.cosignatures_checked,
                witness.newest_cosigned.map_or_else(|| "nothing".to_owned(), |size| format!("{size} entries"))
            ),
        }
    }
}

/// What the scheduled backup found and did, as text.
fn print_backup(done: &backup::Backup) {
    match done {
        backup::Backup::LogRefused { verified } => {
            println!("NO BACKUP: the log in the database does not verify");
            print_verified(verified);
        }
        backup::Backup::ExportRefused { file, verification } => {
            println!("NO BACKUP: the export {} does not verify", file.display());
            print_file_text(verification, "verified");
        }
        backup::Backup::Done { file, exported, extends_kept, kept, .. } => {
            let against = extends_kept.map_or_else(
                || "no checkpoint was kept before".to_owned(),
                |size| format!("it extends the kept checkpoint of {size} entries"),
            );
            println!(
                "backed up {} entries and {} checkpoints to {}; sha256 {}; {against}",
                exported.entries,
                exported.checkpoints,
                file.display(),
                exported.sha256
            );
            if let Some(kept) = kept {
                println!("kept {}", kept.display());
            }
        }
    }
}

/// What checking an export file found, as JSON or as a line of text.
fn print_file_report(json: bool, report: &FileVerification, clean: &str) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print_file_text(report, clean);
    }
    Ok(())
}

/// What checking an export file found, as a line of text.
fn print_file_text(report: &FileVerification, clean: &str) {
    if let Some(fault) = &report.fault {
        let at = fault.fault.ledger_number.map_or_else(String::new, |number| format!(", ledger number {number}"));
        println!("FAILED at line {}{at}: {:?}: {}", fault.line, fault.fault.kind, fault.fault.detail);
    } else {
        let from = if report.from > 1 { format!(" from ledger number {}", report.from) } else { String::new() };
        println!(
            "{clean}: {} lines, {} entries{from} in {} streams, {} checkpoints; the last signed one covers {} entries",
            report.lines,
            report.entries_checked,
            report.streams,
            report.checkpoints_checked,
            report.last_checkpoint.unwrap_or_default()
        );
    }
}
