//! Developer tasks for the Sentinella workspace.
//!
//! `cargo run -p xtask -- tidy` checks the architecture invariants of `ARCHITECTURE.md`
//! (crate layering, no network crates below L4, no debug macros in libraries, crate docs,
//! manifest hygiene). `cargo test -p xtask` runs the same check as a test.

#[cfg(test)]
mod tests;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("tidy") => match tidy::Workspace::load(&workspace_root()) {
            Ok(ws) => report(&tidy::check(&ws)),
            Err(err) => {
                eprintln!("tidy: cannot read the workspace: {err}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("usage: cargo run -p xtask -- tidy");
            ExitCode::FAILURE
        }
    }
}

fn report(problems: &[String]) -> ExitCode {
    if problems.is_empty() {
        println!("tidy: ok");
        return ExitCode::SUCCESS;
    }
    for problem in problems {
        eprintln!("{problem}");
    }
    eprintln!("tidy: {} problem(s)", problems.len());
    ExitCode::FAILURE
}

/// The workspace root: this crate lives in `<root>/crates/xtask`.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/xtask has two parents")
        .to_path_buf()
}
