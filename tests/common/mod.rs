//! Shared helpers for the integration tests.
#![allow(dead_code)]

use rtsim::scenario::Scenario;
use std::path::{Path, PathBuf};

pub fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn sims_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sims")
}

/// Every shipped scenario, sorted by file name.
pub fn shipped() -> Vec<Scenario> {
    load_dir(&sims_dir())
}

/// Every scenario in `dir`, sorted by file name.
pub fn load_dir(dir: &Path) -> Vec<Scenario> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| Scenario::load(f).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

pub fn load(name: &str) -> Scenario {
    Scenario::load(&sims_dir().join(format!("{name}.toml"))).unwrap_or_else(|e| panic!("{e}"))
}
