//! YARA rules (crate `boreal`) over attachments and the message itself, e.g. Neo23x0's
//! signature-base maldoc, phishing, LNK and OneNote rules. Rule authors are named in the
//! findings (signature-base is under DRL 1.1, which asks for attribution).

use std::path::{Path, PathBuf};
use std::time::Duration;

use boreal::MetadataValue;
use boreal::scanner::ScanParams;

/// Longest time one scan may take; a timed-out scan keeps the matches found so far.
const SCAN_TIMEOUT: Duration = Duration::from_secs(2);

/// Compiled rules, with the files that could not be loaded.
pub struct YaraRules {
    scanner: boreal::Scanner,
    /// Rule files loaded.
    pub loaded: Vec<PathBuf>,
    /// Rule files rejected, with the reason (a bad file disables that file, not the rest).
    pub problems: Vec<(PathBuf, String)>,
}

impl std::fmt::Debug for YaraRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("YaraRules")
            .field("loaded", &self.loaded)
            .field("problems", &self.problems)
            .finish()
    }
}

/// A rule that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YaraMatch {
    pub rule: String,
    pub author: Option<String>,
    pub description: Option<String>,
}

impl YaraRules {
    /// Loads every `.yar`/`.yara` file of `dir` (not recursive), each in its own namespace.
    pub fn load_dir(dir: &Path) -> std::io::Result<YaraRules> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "yar" || e == "yara"))
            .collect();
        files.sort();
        let mut loaded = Vec::new();
        let mut problems = Vec::new();
        let mut good = Vec::new();
        // Check each file alone first: one compiler rejects everything after a bad file.
        for file in files {
            let mut probe = boreal::Compiler::new();
            match probe.add_rules_file(&file) {
                Ok(_) => good.push(file),
                Err(error) => problems.push((file, error.to_string())),
            }
        }
        let mut compiler = boreal::Compiler::new();
        for (index, file) in good.into_iter().enumerate() {
            match compiler.add_rules_file_in_namespace(&file, format!("file{index}")) {
                Ok(_) => loaded.push(file),
                Err(error) => problems.push((file, error.to_string())),
            }
        }
        let mut scanner = compiler.finalize();
        scanner.set_scan_params(ScanParams::default().timeout_duration(Some(SCAN_TIMEOUT)));
        Ok(YaraRules {
            scanner,
            loaded,
            problems,
        })
    }

    /// Rules matching `data`.
    pub fn scan(&self, data: &[u8]) -> Vec<YaraMatch> {
        let result = match self.scanner.scan_mem(data) {
            Ok(result) => result,
            Err((_, partial)) => partial,
        };
        result
            .rules
            .iter()
            .map(|rule| {
                let text = |key: &str| {
                    rule.metadatas.iter().find_map(|m| {
                        (self.scanner.get_string_symbol(m.name) == key)
                            .then(|| match m.value {
                                MetadataValue::Bytes(symbol) => Some(
                                    String::from_utf8_lossy(self.scanner.get_bytes_symbol(symbol))
                                        .into_owned(),
                                ),
                                _ => None,
                            })
                            .flatten()
                    })
                };
                YaraMatch {
                    rule: rule.name.to_owned(),
                    author: text("author"),
                    description: text("description"),
                }
            })
            .collect()
    }
}
