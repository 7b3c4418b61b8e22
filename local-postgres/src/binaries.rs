//! Finding the PostgreSQL server binaries, and installing them with apt when the machine has none.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{ClusterError, is_root, run};

const DEBIAN_BIN_ROOT: &str = "/usr/lib/postgresql";

/// The newest `/usr/lib/postgresql/<major>/bin` that has `initdb`, or `pg_config --bindir`'s answer.
fn find_binaries() -> Option<PathBuf> {
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir(DEBIAN_BIN_ROOT)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .collect();
    majors.sort();
    if let Some((_, bin)) = majors.pop() {
        return Some(bin);
    }
    let output = Command::new("pg_config").arg("--bindir").output().ok()?;
    let bin = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    bin.join("initdb").exists().then_some(bin)
}

/// Finds the server binaries, installing Debian's `postgresql` package first if there are none
/// (possible only as root, which is how the service's default and CI run).
pub fn find_or_install_binaries() -> Result<PathBuf, ClusterError> {
    if let Some(bin) = find_binaries() {
        return Ok(bin);
    }
    if !is_root() {
        return Err(ClusterError::NoBinaries("not root, so apt cannot install them; install `postgresql`".into()));
    }
    tracing::warn!("no PostgreSQL server binaries found; installing them with apt");
    run(env_command("apt-get", &["update"]))?;
    run(env_command("apt-get", &["install", "-y", "--no-install-recommends", "postgresql"]))?;
    find_binaries().ok_or_else(|| ClusterError::NoBinaries(format!("apt installed nothing under {DEBIAN_BIN_ROOT}")))
}

fn env_command(program: &str, args: &[&str]) -> Command {
    let mut command = Command::new(Path::new(program));
    command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    command
}
