//! `sentinella rules check DIR`: load Sigma rules and print what loaded and what did not.

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
    }
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
        if !report.correlations.is_empty() {
            writeln!(
                out,
                "note: correlation rules are evaluated by live detection (`serve --rules`), not yet by `hunt`"
            )?;
        }
        if !report.filters.is_empty() {
            writeln!(out, "note: filter rules are parsed but not applied yet")?;
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
