//! The binary's settings: each an environment variable and a flag (`--help`), optionally from a file.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// MS5 Floor: event-sourced manufacturing floor backend.
#[derive(Debug, Parser)]
#[command(version)]
pub struct Settings {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, env = "MS5_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// PostgreSQL to use. Unset: a private cluster in --data-dir.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// A streaming replica of DATABASE_URL's database for dashboards, history and exports; reads go to
    /// the primary while it lags more than --read-max-lag-seconds or cannot be reached.
    #[arg(long, env = "MS5_READ_DATABASE_URL", hide_env_values = true)]
    pub read_database_url: Option<String>,
    /// How far behind the primary the read replica may be before reads go to the primary.
    #[arg(long, env = "MS5_READ_MAX_LAG_SECONDS", default_value_t = 5)]
    pub read_max_lag_seconds: u64,
    /// Owner connection for migrations, when DATABASE_URL's role may not run them.
    #[arg(long, env = "MIGRATION_DATABASE_URL", hide_env_values = true)]
    pub migration_database_url: Option<String>,
    /// Where the private cluster lives when DATABASE_URL is unset.
    #[arg(long, env = "MS5_DATA_DIR", default_value = ".ms5-data/postgres")]
    pub data_dir: PathBuf,
    /// Connections in the application's pool.
    #[arg(long, env = "MS5_DB_POOL_SIZE", default_value_t = 32)]
    pub pool_size: u32,
    /// Log format: `text` for people, `json` for log collectors.
    #[arg(long, env = "MS5_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Minutes an access token is valid.
    #[arg(long, env = "MS5_ACCESS_TOKEN_MINUTES", default_value_t = 15)]
    pub access_token_minutes: u64,
    /// Minutes of inactivity after which a session ends (Part 11 AC-08).
    #[arg(long, env = "MS5_SESSION_IDLE_MINUTES", default_value_t = 15)]
    pub session_idle_minutes: u64,
    /// Consecutive failed sign-ins that lock an account.
    #[arg(long, env = "MS5_MAX_FAILED_LOGINS", default_value_t = NonZeroU32::new(5).unwrap_or(NonZeroU32::MIN))]
    pub max_failed_logins: NonZeroU32,
    /// Minimum password length.
    #[arg(long, env = "MS5_PASSWORD_MIN_LENGTH", default_value_t = 12)]
    pub password_min_length: usize,
    /// How many previous passwords a new one may not repeat.
    #[arg(long, env = "MS5_PASSWORD_HISTORY", default_value_t = 5)]
    pub password_history: usize,
    /// Days after which a password must be changed.
    #[arg(long, env = "MS5_PASSWORD_MAX_AGE_DAYS", default_value_t = 90)]
    pub password_max_age_days: u64,
    /// Segregation of duties: administrators may not hold record-owning roles (Part 11 AC-04).
    #[arg(long, env = "MS5_SEGREGATION_OF_DUTIES", default_value_t = true, action = clap::ArgAction::Set)]
    pub segregation_of_duties: bool,
    /// Where the one-time bootstrap token is written while no account exists; default: beside --data-dir.
    #[arg(long, env = "MS5_BOOTSTRAP_TOKEN_FILE")]
    pub bootstrap_token_file: Option<PathBuf>,
    /// A file holding the key (64 hex digits) that signs snapshots; every instance on one database uses
    /// the same. Default with the private cluster: `snapshot-key` beside --data-dir, created on first run.
    #[arg(long, env = "MS5_SNAPSHOT_KEY_FILE")]
    pub snapshot_key_file: Option<PathBuf>,
    /// A file holding the seal key that signs the ledger's checkpoints: an Ed25519 key in the C2SP
    /// signed-note form (`PRIVATE+KEY+name+id+key`); its name is the checkpoints' origin. Never stored in
    /// the database. Default with the private cluster: `seal-key` beside --data-dir, created on first run.
    #[arg(long, env = "MS5_SEAL_KEY_FILE")]
    pub seal_key_file: Option<PathBuf>,
    /// The seal key itself, for deployments that hand secrets over as environment variables.
    #[arg(long, env = "MS5_SEAL_KEY", hide_env_values = true)]
    pub seal_key: Option<String>,
    /// A file holding the key (at least 64 hex digits) that signs access tokens, for deployments that
    /// keep it in their secret store. Unset: a key kept in the database, made by the first instance.
    #[arg(long, env = "MS5_TOKEN_KEY_FILE")]
    pub token_key_file: Option<PathBuf>,
    /// The seal key's verifier key (`name+id+key`), for an API-only process (`MS5_RUN=api`) that is not
    /// given the seal key itself: what verification checks checkpoints with.
    #[arg(long, env = "MS5_VERIFIER_KEY", value_parser = parse_verifier_key)]
    pub verifier_key: Option<commands::ledger::VerifierKey>,
    /// The longest a sealed event waits for a signed checkpoint, in seconds.
    #[arg(long, env = "MS5_CHECKPOINT_INTERVAL_SECONDS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub checkpoint_interval_seconds: u64,
    /// A directory where every new checkpoint is also written (`<tree size>.checkpoint`), for a keeper
    /// outside the database.
    #[arg(long, env = "MS5_CHECKPOINT_DIR")]
    pub checkpoint_dir: Option<PathBuf>,
    /// An http:// URL to which every new checkpoint is also sent (POST, the checkpoint's text), for a
    /// keeper outside the database; retried until taken or replaced by a newer one.
    #[arg(long, env = "MS5_CHECKPOINT_URL", value_parser = projections::sealing::HttpUrl::parse)]
    pub checkpoint_url: Option<projections::sealing::HttpUrl>,
    /// A witness's http:// base URL: every new checkpoint is sent to `<url>/add-checkpoint` to be
    /// cosigned (C2SP tlog-witness), and its cosignature is stored with the checkpoint. Needs
    /// `MS5_WITNESS_KEY`.
    #[arg(long, env = "MS5_WITNESS_URL", value_parser = projections::sealing::HttpUrl::parse, requires = "witness_key")]
    pub witness_url: Option<projections::sealing::HttpUrl>,
    /// The witness's verifier key (`name+id+key`, cosignature/v1), which every cosignature must check with.
    #[arg(long, env = "MS5_WITNESS_KEY", value_parser = parse_witness_key, requires = "witness_url")]
    pub witness_key: Option<commands::ledger::witness::WitnessVerifierKey>,
    /// How far ahead of this server's clock a source timestamp may be before it is refused.
    #[arg(long, env = "MS5_SOURCE_TIME_TOLERANCE_SECONDS", default_value_t = 300)]
    pub source_time_tolerance_seconds: u64,
    /// What this process runs: the HTTP API, the projector workers, or both. Several processes may run
    /// projectors: each projection is run by one of them at a time.
    #[arg(long, env = "MS5_RUN", value_enum, default_value = "all")]
    pub run: Run,
    /// A PEM file with the certificate chain to serve HTTPS with (the server's certificate first), for
    /// a service reached without an ingress. Needs --tls-key-file.
    #[arg(long, env = "MS5_TLS_CERT_FILE", requires = "tls_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    /// A PEM file with the certificate's private key.
    #[arg(long, env = "MS5_TLS_KEY_FILE", requires = "tls_cert_file")]
    pub tls_key_file: Option<PathBuf>,
    /// Do not run: print the one-time bootstrap token a running service wrote (--bootstrap-token-file),
    /// for images without a shell (`kubectl exec ... -- ms5-floor --print-bootstrap-token`).
    #[arg(long)]
    pub print_bootstrap_token: bool,
    /// Do not run: ask the service on --listen whether it is live (`GET /health/live`) and exit 0 if
    /// it is. The container image's health check.
    #[arg(long)]
    pub probe_live: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Run {
    All,
    Api,
    Projector,
}

impl Settings {
    /// Where a serving process writes the bootstrap token while no account exists.
    pub fn bootstrap_token_file(&self) -> PathBuf {
        self.bootstrap_token_file.clone().unwrap_or_else(|| self.data_dir.with_file_name("bootstrap-token"))
    }

    /// The HTTPS configuration, when a certificate and key are given.
    pub fn tls(&self) -> Result<Option<std::sync::Arc<rustls::ServerConfig>>, api::tls::TlsError> {
        match (&self.tls_cert_file, &self.tls_key_file) {
            (Some(certificate), Some(key)) => api::tls::server_config(certificate, key).map(Some),
            _ => Ok(None),
        }
    }

    pub fn service(
        &self,
        bootstrap_token: Option<String>,
        ledger_verifier: Option<commands::ledger::VerifierKey>,
        token_keys: Option<api::auth::token::TokenKeys>,
    ) -> api::ServiceSettings {
        let minutes = |count: u64| Duration::from_secs(count * 60);
        api::ServiceSettings {
            access_token_ttl: minutes(self.access_token_minutes),
            session_idle_timeout: minutes(self.session_idle_minutes),
            max_failed_logins: self.max_failed_logins,
            password_policy: api::PasswordPolicy {
                min_length: self.password_min_length,
                history: self.password_history,
                max_age: minutes(self.password_max_age_days * 24 * 60),
                ..api::PasswordPolicy::default()
            },
            segregation_of_duties: self.segregation_of_duties,
            bootstrap_token,
            source_time_tolerance: Duration::from_secs(self.source_time_tolerance_seconds),
            ledger_verifier,
            token_keys,
            ..api::ServiceSettings::default()
        }
    }
}

fn parse_verifier_key(text: &str) -> Result<commands::ledger::VerifierKey, String> {
    commands::ledger::VerifierKey::parse(text).map_err(|error| error.to_string())
}

fn parse_witness_key(text: &str) -> Result<commands::ledger::witness::WitnessVerifierKey, String> {
    commands::ledger::witness::WitnessVerifierKey::parse(text).map_err(|error| error.to_string())
}
