//! What the service's behaviour depends on besides the database: authentication policy and limits.
//! The binary fills these from environment variables (documented in the README); tests set them directly.

use std::num::NonZeroU32;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// How long an access token is valid; a client refreshes it with its session's refresh token.
    pub access_token_ttl: Duration,
    /// A session unused for this long ends (Part 11 AC-08); the next action needs a new sign-in.
    pub session_idle_timeout: Duration,
    /// Consecutive failed sign-ins that lock an account (AC-06).
    pub max_failed_logins: NonZeroU32,
    pub password_policy: PasswordPolicy,
    /// Segregation of duties: an administrator may not also hold a record-owning role (AC-04).
    pub segregation_of_duties: bool,
    /// The one-time secret that allows creating the first administrator while no account exists.
    pub bootstrap_token: Option<String>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// How far ahead of the server's clock a source timestamp may be: clocks of PLCs and tablets drift,
    /// but a time further ahead is a wrong clock, not a measurement.
    pub source_time_tolerance: Duration,
    /// The public half of the seal key that signs the ledger's checkpoints: what verification checks
    /// them with and what auditors fetch to check them elsewhere. `None`: no checkpoints are signed.
    pub ledger_verifier: Option<commands::ledger::VerifierKey>,
    /// The key that signs access tokens, when the deployment keeps it in its secret store. `None`: the
    /// key in the database, created by the first instance that needs one.
    pub token_keys: Option<crate::auth::token::TokenKeys>,
    /// Serve HTTPS with this configuration (`crate::tls`) instead of plain HTTP.
    pub tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    /// A streaming replica for dashboards, history and exports (`crate::reads`).
    pub read_replica: Option<crate::reads::ReadReplica>,
}

#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    pub min_length: usize,
    /// Of lowercase, uppercase, digits and other characters, how many kinds a password must mix.
    pub min_character_kinds: usize,
    /// A new password may not repeat any of this many previous ones.
    pub history: usize,
    /// After this long a password must be changed before the next sign-in (AC-05 aging).
    pub max_age: Duration,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            access_token_ttl: Duration::from_secs(15 * 60),
            session_idle_timeout: Duration::from_secs(15 * 60),
            max_failed_logins: NonZeroU32::new(5).unwrap_or(NonZeroU32::MIN),
            password_policy: PasswordPolicy::default(),
            segregation_of_duties: true,
            bootstrap_token: None,
            max_body_bytes: 256 * 1024,
            source_time_tolerance: Duration::from_secs(300),
            ledger_verifier: None,
            token_keys: None,
            tls: None,
            read_replica: None,
        }
    }
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self { min_length: 12, min_character_kinds: 3, history: 5, max_age: Duration::from_secs(90 * 24 * 3600) }
    }
}
