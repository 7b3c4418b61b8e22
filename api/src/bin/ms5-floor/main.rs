//! `ms5-floor`: runs the service. With no `DATABASE_URL` it starts (creating on first run) a private
//! PostgreSQL cluster in the data directory and stops it again on shutdown. `startup` composes the
//! process; `settings` lists what can be configured.

mod probe;
mod settings;
mod shutdown;
mod startup;

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::settings::Settings;

// Many small short-lived allocations across threads per command: glibc malloc showed up as ~15% of
// the client's CPU in profiles; mimalloc is made for this pattern.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Optionally a file of `NAME=value` lines; variables set in the environment win over it.
    if let Some(file) = std::env::var_os("MS5_CONFIG_FILE") {
        dotenvy::from_path(&file).with_context(|| format!("reading MS5_CONFIG_FILE {}", file.to_string_lossy()))?;
    }
    let settings = Settings::parse();
    if settings.probe_live {
        return probe::live(settings.listen, settings.tls_cert_file.as_deref());
    }
    if settings.print_bootstrap_token {
        let file = settings.bootstrap_token_file();
        let token = std::fs::read_to_string(&file).with_context(|| {
            format!("no bootstrap token at {} (an account exists, or the service has not started)", file.display())
        })?;
        println!("{}", token.trim());
        return Ok(());
    }
    // actix's HTTP/1 dispatcher logs every request it cannot parse (a 100 KB URI, a client that goes
    // away mid-body) at ERROR: a client's mistake, one line each. Those requests are answered 4xx and
    // counted; RUST_LOG brings the lines back.
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,actix_http::h1::dispatcher=off"));
    if settings.log_format == "json" {
        tracing_subscriber::fmt().json().with_env_filter(filter).init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }

    startup::run(settings).await
}
