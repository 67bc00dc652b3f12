//! `sentinella rules check DIR`: load Sigma rules and print what loaded and what did not.
//! `sentinella rules list|enable ID|disable ID`: the rules of a running server.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub command: RulesCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum RulesCommand {
    /// Load a Sigma rules directory (or file) and report rules loaded and rejected with
    /// file, line and reason. Exits with status 1 if any document was rejected.
    Check(CheckArgs),
    /// List the rules a running server loaded (enabled or not) and rejected.
    List(ListArgs),
    /// Switch a running server's rule on (by id, else title); kept across restarts.
    Enable(SwitchArgs),
    /// Switch a running server's rule off (by id, else title); kept across restarts.
    Disable(SwitchArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print the server's JSON answer instead of a table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: crate::client::ServerArgs,
}

#[derive(Debug, clap::Args)]
pub struct SwitchArgs {
    /// The rule's id (or title, for rules without an id).
    pub id: String,
    #[command(flatten)]
    pub server: crate::client::ServerArgs,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Directory searched recursively for `*.yml`/`*.yaml`, or one rule file.
    pub path: PathBuf,
    /// Print `{"loaded": N, "rejected": [{"path", "reason"}]}` instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: RulesArgs) -> anyhow::Result<()> {
    match args.command {
        RulesCommand::Check(args) => check(args),
        RulesCommand::List(args) => list(args),
        RulesCommand::Enable(args) => switch(args, "enable"),
        RulesCommand::Disable(args) => switch(args, "disable"),
    }
}

fn list(args: ListArgs) -> anyhow::Result<()> {
    let client = crate::client::Client::new(&args.server)?;
    let listing = client.get_json("/api/v1/rules")?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{listing}")?;
        return Ok(());
    }
    let text = |value: &serde_json::Value| value.as_str().unwrap_or("-").to_owned();
    writeln!(
        out,
        "{:<8} {:<13} {:<11} {:<36} TITLE",
        "STATE", "LEVEL", "KIND", "ID"
    )?;
    for rule in listing["rules"].as_array().into_iter().flatten() {
        let state = if rule["enabled"].as_bool() == Some(false) {
            "off"
        } else {
            "on"
        };
        writeln!(
            out,
            "{state:<8} {:<13} {:<11} {:<36} {}",
            text(&rule["level"]),
            text(&rule["kind"]),
            text(&rule["id"]),
            crate::hunt::printable(&text(&rule["title"]))
        )?;
    }
    for rejected in listing["rejected"].as_array().into_iter().flatten() {
        let line = rejected["line"]
            .as_u64()
            .map(|l| format!(":{l}"))
            .unwrap_or_default();
        writeln!(
            out,
            "rejected {}{line}: {}",
            crate::hunt::printable(&text(&rejected["path"])),
            crate::hunt::printable(&text(&rejected["reason"]))
        )?;
    }
    writeln!(
        out,
        "-- {} loaded, {} enabled, {} rejected (load #{})",
        listing["loaded"],
        listing["enabled"],
        listing["rejected"].as_array().map_or(0, Vec::len),
        listing["generation"]
    )?;
    Ok(())
}

fn switch(args: SwitchArgs, action: &str) -> anyhow::Result<()> {
    let client = crate::client::Client::new(&args.server)?;
    let path = format!("/api/v1/rules/{}/{action}", crate::search::encode(&args.id));
    client.post(&path, "application/json", b"")?;
    println!("rule {} {action}d", args.id);
    Ok(())
}

fn check(args: CheckArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.path.try_exists()?,
        "rules path {} does not exist",
        args.path.display()
    );
    let report = sigma::RuleSet::load_dir(&args.path);
    let mut out = std::io::stdout().lock();
    if args.json {
        let rejected: Vec<_> = report
            .rejected
            .iter()
            .map(|r| serde_json::json!({"path": r.path.display().to_string(), "reason": r.reason.to_string()}))
            .collect();
        let summary = serde_json::json!({"loaded": report.loaded(), "rejected": rejected});
        writeln!(out, "{summary}")?;
    } else {
        writeln!(
            out,
            "{} loaded ({} detection, {} correlation, {} filter), {} rejected",
            report.loaded(),
            report.rules.len(),
            report.correlations.len(),
            report.filters.len(),
            report.rejected.len()
        )?;
        if !report.filters.is_empty() {
            let mut rules = report.rules.clone();
            let (applied, failures) =
                sigma::apply_filters(&mut rules, &report.filters, &sigma::Mappings::builtin());
            writeln!(out, "filters: {applied} (filter, rule) pairs applied")?;
            for failure in failures {
                writeln!(
                    out,
                    "filter {} not applied to {}: {}",
                    failure.filter, failure.rule, failure.reason
                )?;
            }
        }
        let (_, failed) = sigma::compile_all(&report.correlations);
        for (correlation, error) in failed {
            writeln!(out, "correlation {correlation} not evaluated: {error}")?;
        }
        for rejected in &report.rejected {
            let line = rejected.line.map(|l| format!(":{l}")).unwrap_or_default();
            writeln!(
                out,
                "rejected {}{line}: {}",
                rejected.path.display(),
                rejected.reason
            )?;
        }
        let mut warnings: BTreeMap<&str, usize> = BTreeMap::new();
        for warning in &report.warnings {
            *warnings.entry(warning.message.as_str()).or_default() += 1;
        }
        let mut warnings: Vec<_> = warnings.into_iter().collect();
        warnings.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        for (message, count) in warnings {
            writeln!(out, "warning ({count} rules): {message}")?;
        }
    }
    out.flush()?;
    if !report.rejected.is_empty() {
        std::process::exit(1);
    }
    Ok(())
}
