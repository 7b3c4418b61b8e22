//! One shutdown for the whole process: SIGINT (Ctrl-C) and SIGTERM (Kubernetes, systemd) alike turn one
//! watch channel true, which the HTTP server and every worker follow.

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// A receiver that turns true at the first SIGINT or SIGTERM.
pub fn on_signal() -> std::io::Result<watch::Receiver<bool>> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        };
        tracing::info!(signal = name, "shutting down");
        stop.send_replace(true);
        // The receivers may outlive this task; keep the sender until they are done with it.
        stop.closed().await;
    });
    Ok(stopped)
}
