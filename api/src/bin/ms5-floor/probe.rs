//! `--probe-live`: the container image's health check. The runtime image has no shell and no HTTP
//! client, so the binary asks its own listener `GET /health/live` and exits 0 only on a 200. With TLS
//! configured it speaks HTTPS, trusting exactly the configured certificate.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};

const TIMEOUT: Duration = Duration::from_secs(2);
const REQUEST: &[u8] = b"GET /health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

/// Asks the service listening on `listen` whether it is live; over TLS when `certificate` is given.
pub fn live(listen: SocketAddr, certificate: Option<&Path>) -> anyhow::Result<()> {
    let stream =
        TcpStream::connect_timeout(&reachable(listen), TIMEOUT).with_context(|| format!("connecting to {listen}"))?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let head = match certificate {
        None => ask(stream)?,
        Some(certificate) => {
            let config = api::tls::pinned_client_config(certificate)?;
            let name = rustls::pki_types::ServerName::try_from("localhost")?;
            let connection = rustls::ClientConnection::new(config, name)?;
            ask(rustls::StreamOwned::new(connection, stream))?
        }
    };
    match head.split(' ').nth(1) {
        Some("200") => Ok(()),
        _ => bail!("GET /health/live answered {:?}", head.lines().next().unwrap_or_default()),
    }
}

/// Sends the request and returns the start of the answer: the status line fits in the first read.
fn ask(mut stream: impl Read + Write) -> anyhow::Result<String> {
    stream.write_all(REQUEST)?;
    let mut head = [0_u8; 64];
    let read = stream.read(&mut head).context("reading the answer")?;
    Ok(String::from_utf8_lossy(&head[..read]).into_owned())
}

/// A listener on every address is reached on loopback.
fn reachable(listen: SocketAddr) -> SocketAddr {
    match listen {
        SocketAddr::V4(address) if address.ip().is_unspecified() => (Ipv4Addr::LOCALHOST, address.port()).into(),
        SocketAddr::V6(address) if address.ip().is_unspecified() => (Ipv6Addr::LOCALHOST, address.port()).into(),
        other => other,
    }
}
