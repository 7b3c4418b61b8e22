//! The workspace's dependency rules, checked against what cargo actually resolves.

// Test code: a failed unwrap is a failed test, with its error in the message (clippy.toml allows the
// same in unit tests; helpers outside a #[test] need it said here).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::process::Command;

/// Every package `package` depends on at run time (normal dependencies, transitively).
fn runtime_dependencies(package: &str) -> BTreeSet<String> {
    let output = Command::new(env!("CARGO"))
        .args(["tree", "--offline", "--locked", "-e", "normal", "--prefix", "none", "--format", "{p}", "-p", package])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("running cargo tree");
    assert!(output.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != package)
        .map(str::to_owned)
        .collect()
}

#[test]
fn domain_depends_on_no_io_crate() {
    let dependencies = runtime_dependencies("domain");
    for io in ["sqlx", "tokio", "actix-web", "actix-rt", "mio", "reqwest", "hyper", "cqrs-es", "postgres-es"] {
        assert!(!dependencies.contains(io), "domain depends on {io}: {dependencies:?}");
    }
    assert!(dependencies.contains("chrono"), "the check must see domain's real dependencies: {dependencies:?}");
}

#[test]
fn dependencies_point_inward() {
    let outer = ["api", "replay-tools", "bench", "simulator"];
    for inner in ["domain", "commands", "projections"] {
        let dependencies = runtime_dependencies(inner);
        for forbidden in outer {
            assert!(!dependencies.contains(forbidden), "{inner} must not depend on {forbidden}");
        }
    }
    assert!(!runtime_dependencies("commands").contains("projections"));
    assert!(runtime_dependencies("api").contains("commands"));
    // The simulator is a client of the service: it knows the domain's arithmetic, never its storage.
    let simulator = runtime_dependencies("simulator");
    assert!(simulator.contains("domain") && !["commands", "projections", "api"].iter().any(|c| simulator.contains(*c)));
}
