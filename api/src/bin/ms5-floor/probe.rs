//! `--probe-live`: the container image's health check. The runtime image has no shell and no HTTP
//! client, so the binary asks its own listener `GET /health/live` and exits 0 only on a 200.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, bail};

const TIMEOUT: Duration = Duration::from_secs(2);

/// Asks the service listening on `listen` whether it is live.
pub fn live(listen: SocketAddr) -> anyhow::Result<()> {
    let mut stream =
        TcpStream::connect_timeout(&reachable(listen), TIMEOUT).with_context(|| format!("connecting to {listen}"))?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    stream.write_all(b"GET /health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    // The status line is all that is needed, and it fits in the first read.
    let mut head = [0_u8; 64];
    let read = stream.read(&mut head).context("reading the answer")?;
    let status_line = String::from_utf8_lossy(&head[..read]);
    match status_line.split(' ').nth(1) {
        Some("200") => Ok(()),
        _ => bail!("GET /health/live answered {:?}", status_line.lines().next().unwrap_or_default()),
    }
}

/// A listener on every address is reached on loopback.
fn reachable(listen: SocketAddr) -> SocketAddr {
    match listen {
        SocketAddr::V4(address) if address.ip().is_unspecified() => (Ipv4Addr::LOCALHOST, address.port()).into(),
        SocketAddr::V6(address) if address.ip().is_unspecified() => (Ipv6Addr::LOCALHOST, address.port()).into(),
        other => other,
    }
}
