use crate::tidy::{CrateFiles, DEV, LAYERS, Workspace, check};

/// The real workspace is tidy. This is what `cargo test --workspace` runs.
#[test]
fn tidy() {
    let ws = Workspace::load(&crate::workspace_root()).expect("workspace is readable");
    assert!(ws.crates.len() > 1, "found the crates");
    let problems = check(&ws);
    assert!(
        problems.is_empty(),
        "tidy found problems:\n{}",
        problems.join("\n")
    );
}

/// A code map with one row per crate of `LAYERS`, as ARCHITECTURE.md would have it.
fn architecture() -> String {
    let mut table = String::from("| layer | crate | answers |\n|---|---|---|\n");
    for (name, layer) in LAYERS.iter().filter(|(_, layer)| *layer != DEV) {
        table.push_str(&format!("| L{layer} | `{name}` | ... |\n"));
    }
    table
}

fn manifest(name: &str, deps: &str) -> String {
    format!(
        "[package]\nname = \"{name}\"\npublish.workspace = true\n\n\
         [dependencies]\n{deps}\n\n[dev-dependencies]\ntokio.workspace = true\n\n\
         [lints]\nworkspace = true\n"
    )
}

fn krate(name: &str, deps: &str, sources: &[(&str, &str)]) -> CrateFiles {
    CrateFiles {
        dir: name.to_owned(),
        manifest: manifest(name, deps),
        sources: sources
            .iter()
            .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
            .collect(),
    }
}

const LIB: &str = "//! Docs.\npub fn f() {}\n";

/// A small workspace that follows every rule, including the allowed exceptions.
fn clean() -> Workspace {
    Workspace {
        architecture: architecture(),
        crates: vec![
            krate("event", "serde.workspace = true", &[("lib.rs", LIB)]),
            krate(
                "store",
                "event.workspace = true\nq = { package = \"query\", path = \"../query\" }",
                &[
                    ("lib.rs", "//! Docs.\n/// println!(\"in a doc example\");\n"),
                    ("tests.rs", "fn t() { println!(\"x\"); dbg!(1); }\n"),
                    ("search/tests/golden.rs", "fn t() { todo!() }\n"),
                ],
            ),
            krate(
                "query",
                "",
                &[("lib.rs", LIB), ("lexer.rs", "// eprint!(\"x\")\n")],
            ),
            // Sideways within L4 is fine while acyclic.
            krate("pipeline", "store.workspace = true", &[("lib.rs", LIB)]),
            krate(
                "ingest",
                "pipeline.workspace = true\ntokio.workspace = true",
                &[],
            ),
            krate(
                "cli",
                "ingest.workspace = true",
                &[("main.rs", "fn main() { println!(); }")],
            ),
        ],
    }
}

#[test]
fn clean_workspace_passes() {
    let problems = check(&clean());
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn every_kind_of_violation_is_reported() {
    let mut ws = clean();
    ws.architecture = ws.architecture.replace("| L2 | `query`", "| L3 | `query`");
    ws.crates.extend([
        // Upward, a network crate (renamed) in L2, a sideways cycle.
        krate(
            "formats",
            "event.workspace = true\nstore.workspace = true\nnormalize.workspace = true\n\
             rt = { package = \"tokio\", version = \"1\" }",
            &[
                ("lib.rs", "pub fn f() {}\n"),
                ("cef.rs", "fn f() { todo!() }\nfn g() { dbg!(1); }"),
            ],
        ),
        krate(
            "normalize",
            "formats.workspace = true",
            &[
                ("lib.rs", LIB),
                ("map.rs", "fn f() { eprintln!(\"x\"); unimplemented!() }"),
            ],
        ),
        // Not placed in a layer, and manifest hygiene.
        CrateFiles {
            dir: "newcrate".to_owned(),
            manifest: "[package]\nname = \"newcrate\"\n".to_owned(),
            sources: vec![],
        },
    ]);
    // A binary may print but never use `dbg!`.
    ws.crates[5]
        .sources
        .push(("run.rs".to_owned(), "fn f() { dbg!(1); }".to_owned()));
    let problems = check(&ws);
    let expected = [
        "crates/xtask/src/tidy.rs: ARCHITECTURE.md puts `query` in L3",
        "crates/formats/Cargo.toml: `formats` (L2) depends on `store` (L3), a higher layer",
        "crates/formats/Cargo.toml: `formats` (L2) must not depend on `tokio`",
        "crates/formats/Cargo.toml: dependency cycle: formats -> normalize -> formats",
        "crates/formats/src/lib.rs: must start with a `//!` crate doc comment",
        "crates/formats/src/cef.rs:1: `todo!(`",
        "crates/formats/src/cef.rs:2: `dbg!(`",
        "crates/normalize/src/map.rs:1: `unimplemented!(`",
        "crates/normalize/src/map.rs:1: `eprintln!` in a library crate",
        "crates/cli/src/run.rs:1: `dbg!(`",
        "crates/newcrate/Cargo.toml: crate `newcrate` has no layer",
        "crates/newcrate/Cargo.toml: needs `publish.workspace = true` or `publish = false`",
        "crates/newcrate/Cargo.toml: needs `[lints] workspace = true`",
    ];
    for want in expected {
        assert!(
            problems.iter().any(|p| p.starts_with(want)),
            "missing {want:?} in {problems:#?}"
        );
    }
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
}

#[test]
fn a_crate_missing_from_architecture_md_is_reported() {
    let mut ws = clean();
    ws.architecture = ws.architecture.replace("| L6 | `cli` | ... |\n", "");
    let problems = check(&ws);
    assert_eq!(
        problems,
        ["ARCHITECTURE.md: the code map does not list `cli` (L6 in xtask LAYERS)"]
    );
}
