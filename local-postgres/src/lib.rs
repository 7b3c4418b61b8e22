//! Starts and stops a private PostgreSQL cluster from the machine's PostgreSQL binaries, for the
//! service's no-configuration default and for tests. It knows nothing of MS5 Floor's schema.
//!
//! `initdb` and `postgres` refuse to run as root; when we are root the cluster belongs to the
//! `postgres` system user and every server command runs through `runuser`. Connections go over a Unix
//! socket in a directory only the cluster's owner can enter, so `trust` authentication admits no one
//! else on the machine.

mod binaries;

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use binaries::find_or_install_binaries;

/// The OS account that owns clusters we create while running as root.
const CLUSTER_OWNER_WHEN_ROOT: &str = "postgres";
/// Socket paths are limited to 107 bytes on Linux; past this we put the socket in a short temp dir.
const MAX_SOCKET_DIR_LEN: usize = 80;
const PORT: u16 = 5432;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("no PostgreSQL server binaries found and they could not be installed: {0}")]
    NoBinaries(String),
    #[error("could not run {command}: {source}")]
    Spawn { command: String, source: std::io::Error },
    #[error("{command} failed: {output}")]
    Failed { command: String, output: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the cluster's owner ({owner}) cannot reach {path}; choose a data directory it can traverse")]
    Unreachable { owner: String, path: PathBuf },
}

/// Settings for a cluster; `throwaway` trades durability for speed (tests only).
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub data_dir: PathBuf,
    pub throwaway: bool,
    pub max_connections: u32,
}

/// A running cluster and how to reach it.
#[derive(Debug, Clone)]
pub struct Cluster {
    data_dir: PathBuf,
    socket_dir: PathBuf,
    bin_dir: PathBuf,
    run_as: Option<String>,
}

impl Cluster {
    /// The cluster in `data_dir` (which must exist), whether or not it is initialised or running.
    fn at(data_dir: &Path) -> Result<Self, ClusterError> {
        let bin_dir = find_or_install_binaries()?;
        let run_as = is_root().then(|| CLUSTER_OWNER_WHEN_ROOT.to_owned());
        let data_dir = fs::canonicalize(data_dir).map_err(io_error(data_dir))?;
        let socket_dir = socket_dir_for(&data_dir);
        Ok(Self { data_dir, socket_dir, bin_dir, run_as })
    }

    /// Connection URL for `database` as the cluster's superuser.
    pub fn url(&self, database: &str) -> String {
        self.url_as(CLUSTER_OWNER_WHEN_ROOT, database)
    }

    /// Connection URL for `database` as `user` (authentication is `trust` over the private socket).
    pub fn url_as(&self, user: &str, database: &str) -> String {
        format!("postgres://{user}@localhost:{PORT}/{database}?host={}", self.socket_dir.display())
    }

    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    pub fn port(&self) -> u16 {
        PORT
    }

    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// Stops the server, waiting for it to shut down cleanly.
    pub fn stop(&self) -> Result<(), ClusterError> {
        self.pg_ctl(&["-m", "fast", "-w", "stop"])?;
        Ok(())
    }

    /// Makes a streaming hot standby of this cluster in `options.data_dir` (a base backup by
    /// `pg_basebackup`, set up to follow this cluster's WAL) and starts it. The directory must be new.
    pub fn start_standby(&self, options: &ClusterOptions) -> Result<Cluster, ClusterError> {
        fs::create_dir_all(&options.data_dir).map_err(io_error(&options.data_dir))?;
        let standby = Cluster::at(&options.data_dir)?;
        if let Some(owner) = &standby.run_as {
            hand_over(owner, &standby.data_dir, false)?;
        }
        let data_dir = standby.data_dir.display().to_string();
        run(as_owner(None, Path::new("chmod"), ["0700", data_dir.as_str()]))?;
        let (socket_dir, port) = (self.socket_dir.display().to_string(), PORT.to_string());
        let args = ["-h", &socket_dir, "-p", &port, "-U", CLUSTER_OWNER_WHEN_ROOT, "-D", &data_dir];
        run(self.command(
            &self.bin_dir.join("pg_basebackup"),
            args.into_iter().chain(["--write-recovery-conf", "--wal-method=stream", "--checkpoint=fast"]),
        ))?;
        // The copy holds the primary's socket directory, whose lock file names the running primary.
        let copied_sockets = standby.data_dir.join("socket");
        if copied_sockets.exists() {
            fs::remove_dir_all(&copied_sockets).map_err(io_error(&copied_sockets))?;
        }
        start(options)
    }

    fn is_running(&self) -> bool {
        self.pg_ctl(&["status"]).is_ok()
    }

    /// `pg_ctl -D <data dir> <args>`, as the cluster's owner.
    fn pg_ctl(&self, args: &[&str]) -> Result<Output, ClusterError> {
        let data_dir = self.data_dir.as_os_str();
        run(self.command(
            &self.bin_dir.join("pg_ctl"),
            [OsStr::new("-D"), data_dir].into_iter().chain(args.iter().map(OsStr::new)),
        ))
    }

    fn command<I, S>(&self, program: &Path, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        as_owner(self.run_as.as_deref(), program, args)
    }
}

/// A stable 16-hex-digit id for a path, for naming directories derived from it.
pub fn path_id(path: &Path) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(path, &mut hasher);
    format!("{:016x}", std::hash::Hasher::finish(&hasher))
}

fn as_owner<I, S>(run_as: Option<&str>, program: &Path, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    match run_as {
        Some(user) => {
            let mut command = Command::new("runuser");
            command.args(["-u", user, "--"]).arg(program).args(args);
            command
        }
        None => {
            let mut command = Command::new(program);
            command.args(args);
            command
        }
    }
}

fn run(mut command: Command) -> Result<Output, ClusterError> {
    let shown = format!("{command:?}");
    let output = command.output().map_err(|source| ClusterError::Spawn { command: shown.clone(), source })?;
    if !output.status.success() {
        let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stdout));
        return Err(ClusterError::Failed { command: shown, output: text.trim().to_owned() });
    }
    Ok(output)
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ClusterError + '_ {
    move |source| ClusterError::Io { path: path.to_owned(), source }
}

fn is_root() -> bool {
    // `id -u` rather than libc: this crate forbids unsafe code and root-ness is asked once per start.
    Command::new("id").arg("-u").output().is_ok_and(|out| out.stdout.starts_with(b"0\n"))
}

/// Starts the cluster in `options.data_dir`, creating it first if the directory holds none. A cluster
/// that is already running there is reused. Callers that share one cluster across processes must
/// serialise calls (the test kit holds a file lock).
pub fn start(options: &ClusterOptions) -> Result<Cluster, ClusterError> {
    fs::create_dir_all(&options.data_dir).map_err(io_error(&options.data_dir))?;
    let cluster = Cluster::at(&options.data_dir)?;

    let initialised = cluster.data_dir.join("PG_VERSION").exists();
    if let Some(owner) = &cluster.run_as {
        hand_over(owner, &cluster.data_dir, initialised)?;
    }
    if !initialised {
        init(&cluster, options)?;
    }
    prepare_socket_dir(&cluster)?;
    if !cluster.is_running() {
        let log = cluster.data_dir.join("server.log").display().to_string();
        // A session idle inside a transaction holds back every reader of the log in commit order
        // (readers wait for the oldest open transaction): a minute is far beyond any transaction of
        // ours, and bounds what a forgotten interactive session can hold back.
        let server_options = format!(
            "-k {} -c listen_addresses='' -p {PORT} -c idle_in_transaction_session_timeout=60s",
            cluster.socket_dir.display()
        );
        cluster.pg_ctl(&["-l", &log, "-o", &server_options, "-w", "-t", "60", "start"])?;
        tracing::info!(data_dir = %cluster.data_dir.display(), "started private PostgreSQL cluster");
    }
    Ok(cluster)
}

/// Stops the cluster in `data_dir` if one runs there; a directory without a cluster is left alone.
pub fn stop_if_running(data_dir: &Path) -> Result<(), ClusterError> {
    if !data_dir.join("PG_VERSION").exists() {
        return Ok(());
    }
    let cluster = Cluster::at(data_dir)?;
    if cluster.is_running() { cluster.stop() } else { Ok(()) }
}

fn socket_dir_for(data_dir: &Path) -> PathBuf {
    let inside = data_dir.join("socket");
    if inside.as_os_str().len() <= MAX_SOCKET_DIR_LEN {
        return inside;
    }
    std::env::temp_dir().join(format!("ms5-pg-{}", path_id(data_dir)))
}

/// Makes a new data directory the owner's, and checks the owner can reach it through its parents. An
/// initialised cluster's files are the owner's already, and a running server creates and removes files
/// in it all the time: a recursive chown there could trip over one of them.
fn hand_over(owner: &str, data_dir: &Path, initialised: bool) -> Result<(), ClusterError> {
    let path = data_dir.display().to_string();
    if !initialised {
        run(as_owner(None, Path::new("chown"), ["-R", &format!("{owner}:"), path.as_str()]))?;
    }
    if run(as_owner(Some(owner), Path::new("test"), ["-w", path.as_str()])).is_err() {
        return Err(ClusterError::Unreachable { owner: owner.to_owned(), path: data_dir.to_owned() });
    }
    Ok(())
}

fn prepare_socket_dir(cluster: &Cluster) -> Result<(), ClusterError> {
    let dir = &cluster.socket_dir;
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    let path = dir.display().to_string();
    if let Some(owner) = &cluster.run_as {
        run(as_owner(None, Path::new("chown"), [&format!("{owner}:"), path.as_str()]))?;
    }
    run(as_owner(None, Path::new("chmod"), ["0700", path.as_str()]))?;
    Ok(())
}

fn init(cluster: &Cluster, options: &ClusterOptions) -> Result<(), ClusterError> {
    let data_dir = cluster.data_dir.display().to_string();
    let mut args = vec![
        "-D",
        data_dir.as_str(),
        "-U",
        CLUSTER_OWNER_WHEN_ROOT,
        "--auth=trust",
        "--encoding=UTF8",
        "--locale=C.UTF-8",
    ];
    if options.throwaway {
        args.push("--no-sync");
    }
    run(cluster.command(&cluster.bin_dir.join("initdb"), args))?;
    let mut settings = format!(
        "\n# Written by MS5 Floor when it created this cluster.\nmax_connections = {}\nshared_buffers = 256MB\n",
        options.max_connections
    );
    if options.throwaway {
        // A test cluster is thrown away after the run: durability buys nothing there.
        settings.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
    }
    let conf = cluster.data_dir.join("postgresql.conf");
    let mut text = fs::read_to_string(&conf).map_err(io_error(&conf))?;
    text.push_str(&settings);
    fs::write(&conf, text).map_err(io_error(&conf))?;
    tracing::info!(data_dir = %data_dir, "initialised private PostgreSQL cluster");
    Ok(())
}
