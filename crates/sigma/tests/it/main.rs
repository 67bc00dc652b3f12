//! Sigma tests on real data: the SigmaHQ corpus and its regression cases.
//!
//! Both read `../shared/data/sigma` (next to the workspace); they skip, saying so, when it
//! is absent.

mod corpus;
mod engine;
mod mappings;
mod regression;

use std::path::PathBuf;

/// `../shared/data/sigma`, if present.
fn sigma_data() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sigma");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipped: {} not found", dir.display());
        None
    }
}

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/sigma")
}
