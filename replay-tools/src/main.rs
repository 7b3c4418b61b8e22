//! `ms5-replay`: tools for auditors and admins. Exit status 0 only when what was checked is clean; 1
//! when it is not; 2 when the check could not be made (bad arguments, no database).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use commands::ledger::log_file::FileVerification;
use replay_tools::{export, verify};

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
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: String,
        /// The verifier key (`name+id+key`), or a file holding it.
        #[arg(long, env = "MS5_VERIFIER_KEY")]
        verifier_key: String,
        /// A signed checkpoint kept outside the database: the log must still extend it.
        #[arg(long)]
        external_checkpoint: Option<PathBuf>,
    },
    /// Export the event log to a portable file (NDJSON in ledger order, with the signed checkpoints).
    Export {
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: String,
        /// The file to write; it must not exist yet.
        #[arg(long)]
        output: PathBuf,
        /// The last ledger number to export (default: every entry sealed when the export starts).
        #[arg(long)]
        up_to: Option<u64>,
    },
    /// Restore an export file into an empty database, verifying it as `verify-export` does; nothing is
    /// stored unless the whole file verifies. Start the service on the database afterwards: it seals the
    /// events again to the same ledger numbers and rebuilds every read model.
    Import {
        file: PathBuf,
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: String,
        /// The verifier key (`name+id+key`), or a file holding it.
        #[arg(long, env = "MS5_VERIFIER_KEY")]
        verifier_key: String,
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
    let cli = Cli::parse();
    match run(&cli).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("ms5-replay: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Whether what was checked is clean.
async fn run(cli: &Cli) -> anyhow::Result<bool> {
    match &cli.command {
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
        Command::Verify { database_url, verifier_key, external_checkpoint } => {
            let key = verify::verifier_key(verifier_key)?;
            let verification = verify::database(database_url, &key, external_checkpoint.as_deref()).await?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&verification)?);
            } else if let Some(fault) = &verification.fault {
                let at = fault.ledger_number.map_or_else(String::new, |number| format!(" at ledger number {number}"));
                println!("FAILED{at}: {:?}: {}", fault.kind, fault.detail);
            } else {
                println!(
                    "clean: {} entries in {} streams, {} checkpoints; {} entries after the newest checkpoint, {} events not sealed yet",
                    verification.entries_checked,
                    verification.streams,
                    verification.checkpoints_checked,
                    verification.entries_after_newest_checkpoint,
                    verification.unsealed_events
                );
            }
            Ok(verification.is_clean())
        }
        Command::Export { database_url, output, up_to } => {
            let exported = export::to_file(database_url, output, *up_to).await?;
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
        Command::Import { file, database_url, verifier_key } => {
            let report = export::import(database_url, file, &verify::verifier_key(verifier_key)?).await?;
            print_file_report(cli.json, &report, "imported")?;
            Ok(report.is_clean())
        }
        Command::VerifyExport { file, verifier_key } => {
            let report = export::verify_file(file, &verify::verifier_key(verifier_key)?).await?;
            print_file_report(cli.json, &report, "clean")?;
            Ok(report.is_clean())
        }
    }
}

/// What checking an export file found, as JSON or as a line of text.
fn print_file_report(json: bool, report: &FileVerification, clean: &str) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else if let Some(fault) = &report.fault {
        let at = fault.fault.ledger_number.map_or_else(String::new, |number| format!(", ledger number {number}"));
        println!("FAILED at line {}{at}: {:?}: {}", fault.line, fault.fault.kind, fault.fault.detail);
    } else {
        println!(
            "{clean}: {} lines, {} entries in {} streams, {} checkpoints; the last signed one covers {} entries",
            report.lines,
            report.entries_checked,
            report.streams,
            report.checkpoints_checked,
            report.last_checkpoint.unwrap_or_default()
        );
    }
    Ok(())
}
