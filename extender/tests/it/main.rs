//! The extender as kube-scheduler uses it: real payloads, the HTTP server over loopback, and the watch
//! against a fake API server.

mod fixtures;
mod http;
mod watch;

use std::path::{Path, PathBuf};

use extender::{PodSource, State};
use scheduler_core::{Cluster, Scheduler, SchedulerConfig};

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(name)
}

/// A captured payload (`tests/fixtures/<name>.raw.json`): the exact bytes a kube-scheduler sent or accepted.
fn fixture(name: &str) -> Vec<u8> {
    let path = dir("fixtures").join(format!("{name}.raw.json"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Compares `actual` with `tests/golden/<name>`; `SIMSCHED_BLESS=1` rewrites it.
fn golden(name: &str, actual: &str) {
    let path = dir("golden").join(name);
    if std::env::var_os("SIMSCHED_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (run with SIMSCHED_BLESS=1)", path.display()));
    assert_eq!(actual, expected, "output differs from {}", path.display());
}

/// A state with the default profile.
fn state(source: PodSource) -> State {
    let mut cluster = Cluster::new();
    let scheduler = Scheduler::from_config(&SchedulerConfig::default(), &plugins::registry(), &mut cluster, 0).unwrap();
    State::new(cluster, scheduler, source)
}
