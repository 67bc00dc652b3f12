//! `xtask tidy`: the architecture invariants of `ARCHITECTURE.md`, checked on the files.
//!
//! [`Workspace::load`] reads the tree; [`check`] works on that in-memory copy only, so the
//! tests can feed it a synthetic workspace with one violation of each kind.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::Path;

/// Layer of every internal crate, copied from the "Code map" table in `ARCHITECTURE.md`
/// (`check` fails if the two disagree). A new crate must be placed here.
pub(crate) const LAYERS: &[(&str, u8)] = &[
    ("event", 1),
    ("formats", 2),
    ("normalize", 2),
    ("query", 2),
    ("sigma", 2),
    ("intel", 2),
    ("store", 3),
    ("detect", 3),
    ("intel-store", 3),
    ("auth", 3),
    ("phish", 3),
    ("pipeline", 4),
    ("ingest", 4),
    ("api", 5),
    ("webui", 5),
    ("server", 6),
    ("cli", 6),
    ("xtask", DEV),
];

/// Developer crates: above every layer, so nothing may depend on them. Not in ARCHITECTURE.md.
pub(crate) const DEV: u8 = u8::MAX;

/// "L1–L3 do no network IO and do not depend on tokio or axum" (ARCHITECTURE.md).
const NO_NETWORK_UP_TO: u8 = 3;
const NETWORK_CRATES: &[&str] = &["tokio", "axum", "hyper", "reqwest", "ureq", "tower"];

/// Crates that may print: binaries and developer tools.
const MAY_PRINT: &[&str] = &["cli", "xtask"];

// Spelled with `concat!` so this file does not flag itself.
const NEVER: &[&str] = &[
    concat!("todo", "!("),
    concat!("unimplemented", "!("),
    concat!("dbg", "!("),
];
const NOT_IN_LIBRARIES: &[&str] = &[concat!("println", "!"), concat!("eprintln", "!")];

/// The files `check` looks at, relative to the workspace root.
pub struct Workspace {
    /// Text of `ARCHITECTURE.md`.
    pub architecture: String,
    /// One entry per `crates/*` folder, sorted by folder name.
    pub crates: Vec<CrateFiles>,
}

pub struct CrateFiles {
    /// Folder name under `crates/`.
    pub dir: String,
    /// Text of `Cargo.toml`.
    pub manifest: String,
    /// Every `.rs` file under `src/`: path relative to `src/` (with `/`) and text.
    pub sources: Vec<(String, String)>,
}

impl Workspace {
    pub fn load(root: &Path) -> io::Result<Self> {
        let architecture = fs::read_to_string(root.join("ARCHITECTURE.md"))?;
        let mut crates = Vec::new();
        for entry in fs::read_dir(root.join("crates"))? {
            let path = entry?.path();
            if !path.join("Cargo.toml").is_file() {
                continue;
            }
            let mut sources = Vec::new();
            read_sources(&path.join("src"), "", &mut sources)?;
            crates.push(CrateFiles {
                dir: path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                manifest: fs::read_to_string(path.join("Cargo.toml"))?,
                sources,
            });
        }
        crates.sort_by(|a, b| a.dir.cmp(&b.dir));
        Ok(Self {
            architecture,
            crates,
        })
    }
}

fn read_sources(dir: &Path, prefix: &str, out: &mut Vec<(String, String)>) -> io::Result<()> {
    let mut entries = fs::read_dir(dir)?.collect::<io::Result<Vec<_>>>()?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if entry.file_type()?.is_dir() {
            read_sources(&entry.path(), &format!("{name}/"), out)?;
        } else if name.ends_with(".rs") {
            out.push((name, fs::read_to_string(entry.path())?));
        }
    }
    Ok(())
}

/// A parsed `Cargo.toml`: what the checks need.
struct Manifest {
    path: String,
    name: String,
    /// Package names in `[dependencies]` and `[target.*.dependencies]`.
    deps: BTreeSet<String>,
}

/// Every problem found, as `path: message`; empty means tidy.
pub fn check(ws: &Workspace) -> Vec<String> {
    let mut problems = Vec::new();
    check_layer_table(&ws.architecture, &mut problems);
    let mut manifests = Vec::new();
    for krate in &ws.crates {
        let path = format!("crates/{}/Cargo.toml", krate.dir);
        match toml::from_str::<toml::Table>(&krate.manifest) {
            Ok(toml) => {
                check_manifest_hygiene(&path, &toml, &mut problems);
                let manifest = parse_manifest(path, &krate.dir, &toml);
                check_sources(krate, &manifest.name, &mut problems);
                manifests.push(manifest);
            }
            Err(err) => problems.push(format!("{path}: invalid TOML: {err}")),
        }
    }
    check_layering(&manifests, &mut problems);
    problems
}

fn layer_of(name: &str) -> Option<u8> {
    LAYERS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, layer)| layer)
}

fn layer_name(layer: u8) -> String {
    if layer == DEV {
        "dev".to_owned()
    } else {
        format!("L{layer}")
    }
}

/// The table in the source must say what the "Code map" table in ARCHITECTURE.md says.
fn check_layer_table(architecture: &str, problems: &mut Vec<String>) {
    let mut documented = BTreeMap::new();
    for line in architecture.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(layer), Some(names)) = (cells.get(1), cells.get(2)) else {
            continue;
        };
        let Some(Ok(layer)) = layer.strip_prefix('L').map(str::parse::<u8>) else {
            continue;
        };
        for name in names.split('`').skip(1).step_by(2) {
            documented.insert(name.to_owned(), layer);
        }
    }
    for (name, layer) in &documented {
        if layer_of(name) != Some(*layer) {
            problems.push(format!(
                "crates/xtask/src/tidy.rs: ARCHITECTURE.md puts `{name}` in L{layer}; update LAYERS"
            ));
        }
    }
    for (name, layer) in LAYERS.iter().filter(|(_, layer)| *layer != DEV) {
        if !documented.contains_key(*name) {
            problems.push(format!(
                "ARCHITECTURE.md: the code map does not list `{name}` (L{layer} in xtask LAYERS)"
            ));
        }
    }
}

fn parse_manifest(path: String, dir: &str, toml: &toml::Table) -> Manifest {
    let name = toml
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(toml::Value::as_str)
        .unwrap_or(dir)
        .to_owned();
    let mut tables: Vec<&toml::Value> = toml.get("dependencies").into_iter().collect();
    if let Some(targets) = toml.get("target").and_then(toml::Value::as_table) {
        tables.extend(targets.values().filter_map(|t| t.get("dependencies")));
    }
    let deps = tables
        .into_iter()
        .filter_map(toml::Value::as_table)
        .flatten()
        .map(|(key, spec)| {
            let renamed = spec.get("package").and_then(toml::Value::as_str);
            renamed.unwrap_or(key).to_owned()
        })
        .collect();
    Manifest { path, name, deps }
}

fn check_manifest_hygiene(path: &str, toml: &toml::Table, problems: &mut Vec<String>) {
    let publish = toml.get("package").and_then(|p| p.get("publish"));
    let publish_ok = match publish {
        Some(toml::Value::Boolean(false)) => true,
        Some(value) => value.get("workspace").and_then(toml::Value::as_bool) == Some(true),
        None => false,
    };
    if !publish_ok {
        problems.push(format!(
            "{path}: needs `publish.workspace = true` or `publish = false`"
        ));
    }
    let lints = toml.get("lints").and_then(|l| l.get("workspace"));
    if lints.and_then(toml::Value::as_bool) != Some(true) {
        problems.push(format!("{path}: needs `[lints] workspace = true`"));
    }
}

fn check_layering(manifests: &[Manifest], problems: &mut Vec<String>) {
    let internal: BTreeSet<&str> = manifests.iter().map(|m| m.name.as_str()).collect();
    let mut graph: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for m in manifests {
        let Some(layer) = layer_of(&m.name) else {
            problems.push(format!(
                "{}: crate `{}` has no layer; add it to ARCHITECTURE.md and LAYERS in crates/xtask/src/tidy.rs",
                m.path, m.name
            ));
            continue;
        };
        for dep in &m.deps {
            if layer <= NO_NETWORK_UP_TO && NETWORK_CRATES.contains(&dep.as_str()) {
                problems.push(format!(
                    "{}: `{}` ({}) must not depend on `{dep}` (L1–L3 do no network IO)",
                    m.path,
                    m.name,
                    layer_name(layer)
                ));
            }
            if !internal.contains(dep.as_str()) {
                continue;
            }
            graph.entry(&m.name).or_default().push(dep);
            match layer_of(dep) {
                Some(dep_layer) if dep_layer > layer => problems.push(format!(
                    "{}: `{}` ({}) depends on `{dep}` ({}), a higher layer",
                    m.path,
                    m.name,
                    layer_name(layer),
                    layer_name(dep_layer)
                )),
                _ => {} // lower, or sideways (cycles below); an unplaced dep is reported itself
            }
        }
    }
    for cycle in cycles(&graph) {
        let first = cycle[0];
        let path = manifests
            .iter()
            .find(|m| m.name == first)
            .map_or("", |m| &m.path);
        problems.push(format!("{path}: dependency cycle: {}", cycle.join(" -> ")));
    }
}

/// Each cycle once, as `a -> b -> a`, found by depth-first search.
fn cycles<'a>(graph: &BTreeMap<&'a str, Vec<&'a str>>) -> Vec<Vec<&'a str>> {
    fn visit<'a>(
        node: &'a str,
        graph: &BTreeMap<&'a str, Vec<&'a str>>,
        stack: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
        found: &mut Vec<Vec<&'a str>>,
    ) {
        if let Some(start) = stack.iter().position(|n| *n == node) {
            let mut cycle = stack[start..].to_vec();
            cycle.push(node);
            found.push(cycle);
            return;
        }
        if !done.insert(node) {
            return;
        }
        stack.push(node);
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, stack, done, found);
        }
        stack.pop();
    }
    let (mut done, mut found) = (BTreeSet::new(), Vec::new());
    for node in graph.keys() {
        visit(node, graph, &mut Vec::new(), &mut done, &mut found);
    }
    found
}

fn check_sources(krate: &CrateFiles, name: &str, problems: &mut Vec<String>) {
    let library = !MAY_PRINT.contains(&name);
    for (rel, text) in &krate.sources {
        let path = format!("crates/{}/src/{rel}", krate.dir);
        if rel == "lib.rs" && !text.starts_with("//!") {
            problems.push(format!("{path}: must start with a `//!` crate doc comment"));
        }
        let components: Vec<&str> = rel.split('/').collect();
        let is_test = components.iter().any(|c| *c == "tests" || *c == "benches")
            || components.last() == Some(&"tests.rs");
        if is_test {
            continue;
        }
        for (number, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.starts_with("//!") || trimmed.starts_with("///") {
                continue;
            }
            let banned = NEVER
                .iter()
                .chain(if library { NOT_IN_LIBRARIES } else { &[] });
            for pattern in banned.filter(|p| contains_macro(line, p)) {
                let what = if library && NOT_IN_LIBRARIES.contains(pattern) {
                    " in a library crate"
                } else {
                    ""
                };
                problems.push(format!("{path}:{}: `{pattern}`{what}", number + 1));
            }
        }
    }
}

/// `line` calls `pattern` as a whole macro name (`println!` does not match `eprintln!`).
fn contains_macro(line: &str, pattern: &str) -> bool {
    line.match_indices(pattern)
        .any(|(at, _)| !line[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
}
