//! [`RuleLibrary`]: the rule directories of a server, loaded, watched and switched on and
//! off, and the detectors built from them.
//!
//! Reload is a poll, not a notification: [`RuleLibrary::reload_if_changed`] lists the rule
//! files with their size and modification time and reloads everything when that list
//! changed (a few thousand `stat` calls every few seconds; no watcher thread per dir).
//! Loading and compiling happen on the caller's thread, off the ingest path; the result
//! replaces the old set in one swap. A rule that no longer loads is listed as rejected
//! with its reason; the others keep working.
//!
//! Enabled/disabled is kept by rule id (else title) in a small JSON file, so it survives
//! restarts and reloads, and applies to rules that appear later with the same id. So is a
//! level override (the analyst's own severity for a rule): it replaces `level` in the rules
//! handed to detectors, so new live and hunt alerts carry it; the listing shows both.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::{Detector, DetectorSlot, Origin};

/// Why the library could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// The enabled/disabled state could not be written.
    #[error("cannot save rule state to {path}: {source}")]
    SaveState {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One loaded rule, as `GET /api/v1/rules` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct RuleEntry {
    pub id: Option<String>,
    pub title: String,
    /// The effective level: the override if any, else the rule's own.
    pub level: Option<&'static str>,
    /// The level written in the rule file.
    pub original_level: Option<&'static str>,
    pub status: Option<&'static str>,
    /// `detection`, `correlation` or `filter`.
    pub kind: &'static str,
    pub enabled: bool,
    pub path: String,
    /// Filters applied to a detection rule.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<String>,
}

/// One rejected document.
#[derive(Debug, Clone, Serialize)]
pub struct RejectedEntry {
    pub path: String,
    pub line: Option<usize>,
    pub reason: String,
}

/// Everything loaded and rejected, with when it was loaded.
#[derive(Debug, Clone, Serialize)]
pub struct RulesListing {
    pub dirs: Vec<String>,
    /// Number of loads so far (1 after start, +1 per reload).
    pub generation: u64,
    pub loaded: usize,
    pub enabled: usize,
    pub rules: Vec<RuleEntry>,
    pub rejected: Vec<RejectedEntry>,
}

/// What one load produced (filters applied, all rules, enabled or not).
struct Loaded {
    rules: Vec<sigma::CompiledRule>,
    correlations: Vec<sigma::CorrelationRule>,
    filters: Vec<sigma::FilterRule>,
    rejected: Vec<RejectedEntry>,
    fingerprint: Vec<(PathBuf, u64, Option<SystemTime>)>,
    generation: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct SavedState {
    disabled: BTreeSet<String>,
    /// Level overrides by rule key, in Sigma spelling (absent in files written before
    /// overrides existed).
    #[serde(default)]
    levels: BTreeMap<String, String>,
}

/// The rule directories of a server (see the module documentation).
pub struct RuleLibrary {
    dirs: Vec<PathBuf>,
    state_path: Option<PathBuf>,
    loaded: RwLock<Arc<Loaded>>,
    disabled: Mutex<BTreeSet<String>>,
    levels: Mutex<BTreeMap<String, sigma::Level>>,
    /// Serializes reloads and state changes (listing and building stay concurrent).
    writing: Mutex<()>,
    /// Where rebuilt live detectors go, when live detection follows this library.
    live: Option<Arc<DetectorSlot>>,
}

impl RuleLibrary {
    /// Loads the rules under `dirs`; `state_path` keeps which rules are disabled (`None`:
    /// in memory only). An unreadable state file counts as "all enabled".
    pub fn open(dirs: Vec<PathBuf>, state_path: Option<PathBuf>) -> Self {
        let saved = state_path
            .as_deref()
            .and_then(|path| std::fs::read_to_string(path).ok())
            .and_then(|text| serde_json::from_str::<SavedState>(&text).ok())
            .unwrap_or_default();
        // A level this version does not know is dropped, not fatal.
        let levels = saved
            .levels
            .iter()
            .filter_map(|(key, name)| Some((key.clone(), Self::level_named(name)?)))
            .collect();
        let disabled = saved.disabled;
        let loaded = load(&dirs, 1);
        Self {
            dirs,
            state_path,
            loaded: RwLock::new(Arc::new(loaded)),
            disabled: Mutex::new(disabled),
            levels: Mutex::new(levels),
            writing: Mutex::new(()),
            live: None,
        }
    }

    /// The Sigma level spelled `name` (`"high"`), if it is one.
    pub fn level_named(name: &str) -> Option<sigma::Level> {
        use sigma::Level;
        [
            Level::Informational,
            Level::Low,
            Level::Medium,
            Level::High,
            Level::Critical,
        ]
        .into_iter()
        .find(|level| level.as_str() == name)
    }

    /// After each reload and enable/disable, offers a rebuilt live detector to `slot`.
    pub fn with_live_slot(mut self, slot: Arc<DetectorSlot>) -> Self {
        self.live = Some(slot);
        self
    }

    /// Offers a detector of `loaded`'s enabled rules to the live slot, if any. Called
    /// before the new state is visible, so whoever sees it (`listing`) knows the next
    /// batch uses it.
    fn publish(&self, loaded: &Loaded) {
        if let Some(slot) = &self.live {
            let (rules, correlations) = self.select_in(loaded, None);
            let (detector, _) = Detector::with_correlations(rules, &correlations);
            slot.offer(detector.with_origin(Origin::Live));
        }
    }

    /// The rule directories.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    fn current(&self) -> Arc<Loaded> {
        Arc::clone(&self.loaded.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Reloads when a rule file was added, removed or changed since the last load;
    /// `true` when it reloaded.
    pub fn reload_if_changed(&self) -> bool {
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.current();
        if fingerprint(&self.dirs) == current.fingerprint {
            return false;
        }
        let next = load(&self.dirs, current.generation + 1);
        self.publish(&next);
        *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        true
    }

    /// Enables or disables the rule with this id (or title, for rules without an id), and
    /// saves the choice. `Ok(false)` when no loaded rule has that key.
    pub fn set_enabled(&self, key: &str, enabled: bool) -> Result<bool, LibraryError> {
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.current();
        if !is_known(&current, key) {
            return Ok(false);
        }
        {
            let mut disabled = self.disabled.lock().unwrap_or_else(|e| e.into_inner());
            if enabled {
                disabled.remove(key);
            } else {
                disabled.insert(key.to_owned());
            }
        }
        self.save()?;
        self.publish(&current);
        Ok(true)
    }

    /// Overrides the level of the rule with this key (`None`: back to the rule's own), saves
    /// it and republishes, so new alerts carry it. `Ok(false)` when no loaded rule has that
    /// key.
    pub fn set_level(&self, key: &str, level: Option<sigma::Level>) -> Result<bool, LibraryError> {
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.current();
        if !is_known(&current, key) {
            return Ok(false);
        }
        {
            let mut levels = self.levels.lock().unwrap_or_else(|e| e.into_inner());
            match level {
                Some(level) => levels.insert(key.to_owned(), level),
                None => levels.remove(key),
            };
        }
        self.save()?;
        self.publish(&current);
        Ok(true)
    }

    /// Writes the switches and overrides to the state file, if there is one.
    fn save(&self) -> Result<(), LibraryError> {
        let Some(path) = &self.state_path else {
            return Ok(());
        };
        let snapshot = SavedState {
            disabled: self
                .disabled
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            levels: self
                .levels
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .map(|(key, level)| (key.clone(), level.as_str().to_owned()))
                .collect(),
        };
        let json = serde_json::to_vec_pretty(&snapshot).expect("maps of strings serialize");
        crate::write_atomically(path, &json).map_err(|source| LibraryError::SaveState {
            path: path.clone(),
            source,
        })
    }

    /// A detector over the enabled rules and correlations, and the correlations that
    /// could not be compiled with the reason.
    pub fn detector(&self, origin: Origin) -> (Detector, Vec<(String, String)>) {
        let (rules, correlations) = self.select(None);
        let (detector, failed) = Detector::with_correlations(rules, &correlations);
        (detector.with_origin(origin), failed)
    }

    /// The enabled rules and correlations, or the loaded ones (enabled or not: hunting
    /// with a switched-off rule is how one tries it) whose id or name is in `ids`, with
    /// the rules the selected correlations reference.
    pub fn select(
        &self,
        ids: Option<&[String]>,
    ) -> (Vec<sigma::CompiledRule>, Vec<sigma::CorrelationRule>) {
        self.select_in(&self.current(), ids)
    }

    fn select_in(
        &self,
        current: &Loaded,
        ids: Option<&[String]>,
    ) -> (Vec<sigma::CompiledRule>, Vec<sigma::CorrelationRule>) {
        let disabled = self
            .disabled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let wanted = |meta: &sigma::RuleMeta| match ids {
            None => true,
            Some(ids) => ids.iter().any(|id| {
                meta.id.as_deref() == Some(id.as_str()) || meta.name.as_deref() == Some(id.as_str())
            }),
        };
        let levels = self
            .levels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let allowed = |meta: &sigma::RuleMeta| ids.is_some() || !disabled.contains(&rule_key(meta));
        let overridden = |meta: &mut sigma::RuleMeta| {
            if let Some(level) = levels.get(&rule_key(meta)) {
                meta.level = Some(*level);
            }
        };
        let correlations: Vec<sigma::CorrelationRule> = current
            .correlations
            .iter()
            .filter(|c| allowed(&c.meta) && wanted(&c.meta))
            .cloned()
            .map(|mut c| {
                overridden(&mut c.meta);
                c
            })
            .collect();
        let rules = current
            .rules
            .iter()
            .filter(|r| {
                let referenced = correlations.iter().any(|c| {
                    c.rules.iter().any(|name| {
                        r.meta.id.as_deref() == Some(name.as_str())
                            || r.meta.name.as_deref() == Some(name.as_str())
                    })
                });
                allowed(&r.meta) && (wanted(&r.meta) || referenced)
            })
            .cloned()
            .map(|mut r| {
                overridden(&mut r.meta);
                r
            })
            .collect();
        (rules, correlations)
    }

    /// What is loaded, enabled and rejected.
    pub fn listing(&self) -> RulesListing {
        let current = self.current();
        let disabled = self
            .disabled
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let levels = self
            .levels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let effective = |meta: &sigma::RuleMeta| {
            levels
                .get(&rule_key(meta))
                .copied()
                .or(meta.level)
                .map(sigma::Level::as_str)
        };
        let mut rules = Vec::new();
        for rule in &current.rules {
            rules.push(RuleEntry {
                id: rule.meta.id.clone(),
                title: rule.meta.title.clone(),
                level: effective(&rule.meta),
                original_level: rule.meta.level.map(sigma::Level::as_str),
                status: rule.meta.status.map(sigma::Status::as_str),
                kind: "detection",
                enabled: !disabled.contains(&rule_key(&rule.meta)),
                path: rule.path.display().to_string(),
                filters: rule.filters.clone(),
            });
        }
        for correlation in &current.correlations {
            rules.push(RuleEntry {
                id: correlation.meta.id.clone(),
                title: correlation.meta.title.clone(),
                level: effective(&correlation.meta),
                original_level: correlation.meta.level.map(sigma::Level::as_str),
                status: correlation.meta.status.map(sigma::Status::as_str),
                kind: "correlation",
                enabled: !disabled.contains(&rule_key(&correlation.meta)),
                path: String::new(),
                filters: Vec::new(),
            });
        }
        for filter in &current.filters {
            rules.push(RuleEntry {
                id: filter.meta.id.clone(),
                title: filter.meta.title.clone(),
                level: None,
                original_level: None,
                status: filter.meta.status.map(sigma::Status::as_str),
                kind: "filter",
                enabled: true,
                path: String::new(),
                filters: Vec::new(),
            });
        }
        let enabled = rules.iter().filter(|r| r.enabled).count();
        RulesListing {
            dirs: self.dirs.iter().map(|d| d.display().to_string()).collect(),
            generation: current.generation,
            loaded: rules.len(),
            enabled,
            rules,
            rejected: current.rejected.clone(),
        }
    }
}

/// Whether a loaded detection or correlation rule has this key.
fn is_known(loaded: &Loaded, key: &str) -> bool {
    loaded.rules.iter().any(|r| rule_key(&r.meta) == key)
        || loaded.correlations.iter().any(|c| rule_key(&c.meta) == key)
}

/// A rule's key for enable/disable: its id, else its title.
fn rule_key(meta: &sigma::RuleMeta) -> String {
    meta.id.clone().unwrap_or_else(|| meta.title.clone())
}

fn fingerprint(dirs: &[PathBuf]) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut files = Vec::new();
    for dir in dirs {
        for file in sigma::rule_files(dir) {
            let meta = std::fs::metadata(&file).ok();
            let len = meta.as_ref().map_or(0, std::fs::Metadata::len);
            let modified = meta.and_then(|m| m.modified().ok());
            files.push((file, len, modified));
        }
    }
    files
}

fn load(dirs: &[PathBuf], generation: u64) -> Loaded {
    // The fingerprint is taken before reading, so a change during the load is seen by
    // the next poll.
    let fingerprint = fingerprint(dirs);
    let mut report = sigma::LoadReport::default();
    for dir in dirs {
        let one = sigma::RuleSet::load_dir(dir);
        report.rules.extend(one.rules);
        report.correlations.extend(one.correlations);
        report.filters.extend(one.filters);
        report.rejected.extend(one.rejected);
    }
    let mut rejected: Vec<RejectedEntry> = report
        .rejected
        .iter()
        .map(|r| RejectedEntry {
            path: r.path.display().to_string(),
            line: r.line,
            reason: r.reason.to_string(),
        })
        .collect();
    for (correlation, error) in sigma::compile_all(&report.correlations).1 {
        rejected.push(RejectedEntry {
            path: String::new(),
            line: None,
            reason: format!("correlation {correlation} not evaluated: {error}"),
        });
    }
    let (_, failures) = sigma::apply_filters(
        &mut report.rules,
        &report.filters,
        &sigma::Mappings::builtin(),
    );
    for failure in failures {
        rejected.push(RejectedEntry {
            path: String::new(),
            line: None,
            reason: format!(
                "filter {} not applied to rule {}: {}",
                failure.filter, failure.rule, failure.reason
            ),
        });
    }
    Loaded {
        rules: report.rules,
        correlations: report.correlations,
        filters: report.filters,
        rejected,
        fingerprint,
        generation,
    }
}

/// Polls a [`RuleLibrary`] for changes on its own thread until dropped.
pub struct Watcher {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RuleLibrary {
    /// Starts polling the rule directories every `every` ([`RuleLibrary::reload_if_changed`]).
    pub fn watch(self: &Arc<Self>, every: std::time::Duration) -> std::io::Result<Watcher> {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let library = Arc::clone(self);
        let thread = std::thread::Builder::new()
            .name("rules-watch".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(every)
                {
                    if library.reload_if_changed() {
                        let listing = library.listing();
                        tracing::info!(
                            generation = listing.generation,
                            loaded = listing.loaded,
                            rejected = listing.rejected.len(),
                            "sigma rules reloaded"
                        );
                    }
                }
            })?;
        Ok(Watcher {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests;
