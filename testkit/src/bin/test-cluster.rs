//! `test-cluster remove`: stops the shared test cluster and deletes it; the test command runs it after
//! every run so that each run starts from an empty cluster.

use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = testkit::shared_cluster_dir();
    if std::env::args().nth(1).as_deref() != Some("remove") {
        eprintln!("usage: test-cluster remove   (the cluster lives in {})", dir.display());
        return ExitCode::from(2);
    }
    if let Err(error) = local_postgres::stop_if_running(&dir) {
        eprintln!("stopping the test cluster in {}: {error}", dir.display());
        return ExitCode::FAILURE;
    }
    for path in [dir.clone(), dir.with_extension("lock")] {
        let removed = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        if let Err(error) = removed.or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })
        {
            eprintln!("removing {}: {error}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
