//! Where threat intelligence lives: the [`intel::IndicatorSet`] in `DATA_DIR/intel`, the
//! warninglists that suppress known-benign values, and the [`intel::SharedMatcher`] the
//! live pipeline matches with, rebuilt after every change.
//!
//! On disk: a snapshot, `indicators.jsonl` (the whole set, replaced atomically: temporary
//! file, fsync, rename), and a change log, `indicators.changes.jsonl`, to which every
//! change appends the new state of the records it touched (and removals), then fsyncs. A
//! change costs what it touched, not the whole set. Opening replays the log over the
//! snapshot; a torn last line (a crash mid-append) is dropped and cut off. When the log
//! grows past half the snapshot (and 4 MiB), the set is written as a new snapshot and the
//! log emptied; a crash in between replays a log whose records the snapshot already has,
//! which changes nothing.
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! let (mut store, problems) = intel_store::IntelStore::open(dir.path(), intel::Warninglists::new()).unwrap();
//! assert!(problems.is_empty());
//! let options = intel::ImportOptions::new("manual", intel::Tlp::Green);
//! let report = intel::import::import_any(b"198.51.100.7\n", None, &options).unwrap();
//! let summary = store.apply(report, jiff::Timestamp::now()).unwrap();
//! assert_eq!(summary.new, 1);
//! assert!(store.matcher().current().lookup_ip("198.51.100.7".parse().unwrap()).is_some());
//! ```

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read as _, Seek as _};
use std::path::{Path, PathBuf};

use intel::{
    ImportReport, IndicatorKind, IndicatorSet, Inserted, Matcher, SharedMatcher, VersionOutcome,
    Warninglists,
};
use jiff::Timestamp;
use serde::Serialize;

/// The snapshot file inside the intel directory.
pub const INDICATORS_FILE: &str = "indicators.jsonl";
/// The change log inside the intel directory.
pub const CHANGES_FILE: &str = "indicators.changes.jsonl";

/// The change log is folded into a new snapshot past this size, or past half the
/// snapshot's size when that is larger.
const MIN_COMPACTION_BYTES: u64 = 4 << 20;

/// Why the store could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_owned();
    move |source| StoreError::Io {
        action,
        path,
        source,
    }
}

/// What applying an import changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplySummary {
    /// Values not known before.
    pub new: usize,
    /// Values merged into known ones.
    pub merged: usize,
    /// Pattern-only indicators kept.
    pub patterns: usize,
    /// Sightings recorded on known indicators.
    pub sightings: usize,
    /// Values withdrawn because their last source revoked them.
    pub withdrawn: usize,
    /// Values of older STIX indicator versions that a newer version no longer carries,
    /// retired.
    pub replaced: usize,
    /// Values dropped because a warninglist says they are benign: value and list.
    pub suppressed: Vec<(String, String)>,
    /// Entries the feed had that were refused: where and why.
    pub problems: Vec<(String, String)>,
    /// Entries ignored (not for detection), by reason.
    pub ignored: std::collections::BTreeMap<String, usize>,
    /// Ids of the new indicators (for retro-matching over stored events).
    #[serde(skip)]
    pub new_ids: Vec<String>,
}

/// Reads the set of an intel directory (snapshot and change log) without changing
/// anything: for readers beside a running server (a torn last line is skipped, not cut).
/// Unreadable lines are skipped and returned (line number and reason, the file named).
pub fn read_set(dir: &Path) -> Result<(IndicatorSet, Vec<(usize, String)>), StoreError> {
    let mut set = IndicatorSet::new();
    let mut problems = Vec::new();
    read_file(&mut set, &dir.join(INDICATORS_FILE), &mut problems)?;
    let changes = dir.join(CHANGES_FILE);
    let mut log_problems = Vec::new();
    let complete = read_file(&mut set, &changes, &mut log_problems)?;
    // The last line of a log that does not end in a newline may be torn.
    if let Some(&(last_line, _)) = log_problems.last()
        && !complete
        && last_line == count_lines(&changes)?
    {
        log_problems.pop();
    }
    problems.extend(
        log_problems
            .into_iter()
            .map(|(line, reason)| (line, format!("{CHANGES_FILE}: {reason}"))),
    );
    Ok((set, problems))
}

/// Replays `path` (absent: nothing) into `set`. Returns whether the file ends with a
/// newline (or is empty or absent).
fn read_file(
    set: &mut IndicatorSet,
    path: &Path,
    problems: &mut Vec<(usize, String)>,
) -> Result<bool, StoreError> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(source) => return Err(io_error("reading", path)(source)),
    };
    let complete = ends_with_newline(&mut file).map_err(io_error("reading", path))?;
    file.rewind().map_err(io_error("reading", path))?;
    set.read_jsonl(BufReader::with_capacity(1 << 20, file), problems)
        .map_err(io_error("reading", path))?;
    Ok(complete)
}

fn ends_with_newline(file: &mut File) -> std::io::Result<bool> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    file.seek(std::io::SeekFrom::Start(len - 1))?;
    let mut last = [0u8];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

fn count_lines(path: &Path) -> Result<usize, StoreError> {
    let file = File::open(path).map_err(io_error("reading", path))?;
    let mut n = 0;
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let read = std::io::BufRead::read_until(&mut reader, b'\n', &mut buf)
            .map_err(io_error("reading", path))?;
        if read == 0 {
            return Ok(n);
        }
        n += 1;
    }
}

/// Cuts a torn last line (no newline at the end) off the log, so appends start on a line
/// of their own.
fn cut_torn_tail(path: &Path) -> Result<(), StoreError> {
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(io_error("opening", path)(source)),
    };
    if ends_with_newline(&mut file).map_err(io_error("reading", path))? {
        return Ok(());
    }
    file.rewind().map_err(io_error("reading", path))?;
    let mut reader = BufReader::new(&file);
    let (mut offset, mut good) = (0u64, 0u64);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let read = std::io::BufRead::read_until(&mut reader, b'\n', &mut buf)
            .map_err(io_error("reading", path))?;
        if read == 0 {
            break;
        }
        offset += read as u64;
        if buf.last() == Some(&b'\n') {
            good = offset;
        }
    }
    drop(reader);
    file.set_len(good).map_err(io_error("truncating", path))?;
    file.sync_all().map_err(io_error("syncing", path))
}

/// The indicator set on disk and the matcher built from it.
pub struct IntelStore {
    dir: PathBuf,
    set: IndicatorSet,
    warninglists: Warninglists,
    matcher: SharedMatcher,
    /// The next time an indicator starts or stops being valid: the matcher is rebuilt then.
    next_boundary: Option<Timestamp>,
    snapshot_bytes: u64,
    log_bytes: u64,
    /// A failed log append leaves changes that only a full snapshot can save.
    needs_snapshot: bool,
}

impl IntelStore {
    /// Opens (creating) `dir` and reads the set: the snapshot, then the change log over
    /// it. Unreadable lines are skipped and returned (line number and reason): a damaged
    /// line costs that record, never the start. A torn last line of the log is dropped.
    pub fn open(
        dir: &Path,
        warninglists: Warninglists,
    ) -> Result<(IntelStore, Vec<(usize, String)>), StoreError> {
        std::fs::create_dir_all(dir).map_err(io_error("creating", dir))?;
        let changes = dir.join(CHANGES_FILE);
        cut_torn_tail(&changes)?;
        let (mut set, problems) = read_set(dir)?;
        set.track_changes();
        set.clear_changes();
        let size = |path: &Path| std::fs::metadata(path).map_or(0, |m| m.len());
        let now = Timestamp::now();
        let matcher = SharedMatcher::new(Matcher::new(&set, now));
        let next_boundary = next_boundary(&set, now);
        Ok((
            IntelStore {
                snapshot_bytes: size(&dir.join(INDICATORS_FILE)),
                log_bytes: size(&changes),
                dir: dir.to_owned(),
                set,
                warninglists,
                matcher,
                next_boundary,
                needs_snapshot: false,
            },
            problems,
        ))
    }

    /// The indicators.
    pub fn set(&self) -> &IndicatorSet {
        &self.set
    }

    /// The matcher the pipeline uses; rebuilt after every change.
    pub fn matcher(&self) -> SharedMatcher {
        self.matcher.clone()
    }

    /// Adds what an import found (after warninglist suppression), saves, and rebuilds
    /// the matcher. A newer version of a STIX indicator retires the values the older
    /// version had and the newer one does not; an older version adds nothing.
    pub fn apply(
        &mut self,
        report: ImportReport,
        now: Timestamp,
    ) -> Result<ApplySummary, StoreError> {
        let mut summary = ApplySummary {
            problems: report
                .problems
                .into_iter()
                .map(|p| (p.entry, p.reason))
                .collect(),
            ignored: report.ignored,
            ..ApplySummary::default()
        };
        let mut outdated: HashSet<(IndicatorKind, String)> = HashSet::new();
        let mut current = Vec::new();
        for version in report.versions {
            match self.set.apply_stix_version(&version, now) {
                VersionOutcome::Outdated => {
                    *summary
                        .ignored
                        .entry("older version of a known STIX indicator".into())
                        .or_default() += 1;
                    outdated.extend(version.values);
                }
                VersionOutcome::Replaced(n) => {
                    summary.replaced += n;
                    current.push(version);
                }
                VersionOutcome::Current => current.push(version),
            }
        }
        let mut indicators = report.indicators;
        if !outdated.is_empty() {
            indicators.retain(|i| !outdated.contains(&(i.kind, i.value.clone())));
        }
        summary.suppressed = self
            .warninglists
            .suppress(&mut indicators)
            .into_iter()
            .map(|(indicator, list)| (indicator.value, list))
            .collect();
        for indicator in indicators {
            let (kind, value) = (indicator.kind, indicator.value.clone());
            match self.set.insert(indicator) {
                Inserted::New => {
                    summary.new += 1;
                    if let Some(known) = self.set.get(kind, &value) {
                        summary.new_ids.push(known.id);
                    }
                }
                Inserted::Merged => summary.merged += 1,
            }
        }
        for version in &current {
            self.set.settle_stix_version(version);
        }
        for (kind, value, source) in &report.revoked {
            if self.set.retract(*kind, value, source, now) {
                summary.withdrawn += 1;
            }
        }
        summary.patterns = report.patterns.len();
        for pattern in report.patterns {
            self.set.insert_pattern(pattern);
        }
        for sighting in &report.sightings {
            if let Some(of) = &sighting.sighting_of
                && self.set.note_reported_sighting(
                    of,
                    sighting.count,
                    sighting.last_seen.or(sighting.first_seen),
                )
            {
                summary.sightings += 1;
            }
        }
        self.commit(now)?;
        Ok(summary)
    }

    /// Adds sightings seen by live matching (id, count, first, last). Kept in memory and
    /// saved with the next change: they are counts, not evidence (the alerts are).
    pub fn record_sightings(&mut self, sightings: &[(String, u64, Timestamp, Timestamp)]) -> usize {
        sightings
            .iter()
            .filter(|(id, count, _, last)| self.set.record_sighting(id, *count, Some(*last)))
            .count()
    }

    /// Withdraws a false positive everywhere (matching, exports, feeds, TAXII) from now on.
    pub fn withdraw(
        &mut self,
        kind: IndicatorKind,
        value: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let known = self.set.withdraw(kind, value, now);
        if known {
            self.commit(now)?;
        }
        Ok(known)
    }

    /// Drops expired indicators; returns how many.
    pub fn expire(&mut self, now: Timestamp) -> Result<usize, StoreError> {
        let n = self.set.expire(now);
        if n > 0 {
            self.commit(now)?;
        }
        Ok(n)
    }

    /// Time passing: drops expired indicators and rebuilds the matcher when an indicator
    /// became valid or expired since the last build. Cheap when nothing changed; call it
    /// every minute or so. Returns how many expired.
    pub fn tick(&mut self, now: Timestamp) -> Result<usize, StoreError> {
        if self.next_boundary.is_none_or(|boundary| now < boundary) {
            return Ok(0);
        }
        let n = self.set.expire(now);
        self.commit(now)?;
        Ok(n)
    }

    fn commit(&mut self, now: Timestamp) -> Result<(), StoreError> {
        let saved = self.save_changes();
        // The matcher follows the set even when saving failed: what is in memory is what
        // the operator asked for; the error says it is not durable yet.
        self.matcher.replace(Matcher::new(&self.set, now));
        self.next_boundary = next_boundary(&self.set, now);
        saved
    }

    /// Appends the pending changes to the log (fsync), or writes a new snapshot when the
    /// log has grown large (or an append failed before).
    fn save_changes(&mut self) -> Result<(), StoreError> {
        let threshold = MIN_COMPACTION_BYTES.max(self.snapshot_bytes / 2);
        if self.needs_snapshot || self.log_bytes > threshold {
            return self.save();
        }
        if !self.set.has_changes() {
            return Ok(());
        }
        let path = self.dir.join(CHANGES_FILE);
        let appended = (|| {
            let file = OpenOptions::new().create(true).append(true).open(&path)?;
            let mut out = BufWriter::with_capacity(1 << 20, file);
            let mut counter = CountingWriter {
                inner: &mut out,
                bytes: 0,
            };
            self.set.write_changes(&mut counter)?;
            let bytes = counter.bytes;
            let file = out.into_inner().map_err(|e| e.into_error())?;
            file.sync_data()?;
            Ok::<u64, std::io::Error>(bytes)
        })();
        match appended {
            Ok(bytes) => {
                self.log_bytes += bytes;
                if self.log_bytes > threshold {
                    self.save()?;
                }
                Ok(())
            }
            Err(source) => {
                self.needs_snapshot = true;
                Err(StoreError::Io {
                    action: "appending to",
                    path,
                    source,
                })
            }
        }
    }

    /// Writes the whole set as a new snapshot (temporary file, fsync, rename over the old
    /// one, so a crash leaves the old or the new snapshot, never half of one), then
    /// empties the change log.
    pub fn save(&mut self) -> Result<(), StoreError> {
        let path = self.dir.join(INDICATORS_FILE);
        let tmp = path.with_extension("jsonl.tmp");
        let file = File::create(&tmp).map_err(io_error("creating", &tmp))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut counter = CountingWriter {
            inner: &mut out,
            bytes: 0,
        };
        self.set
            .write_jsonl(&mut counter)
            .map_err(io_error("writing", &tmp))?;
        let bytes = counter.bytes;
        let file = out
            .into_inner()
            .map_err(|e| io_error("writing", &tmp)(e.into_error()))?;
        file.sync_all().map_err(io_error("syncing", &tmp))?;
        drop(file);
        std::fs::rename(&tmp, &path).map_err(io_error("replacing", &path))?;
        if let Ok(dir) = File::open(&self.dir) {
            // The rename is durable once the directory is synced (best effort).
            let _ = dir.sync_all();
        }
        // The snapshot holds everything now: the log's records are redundant.
        let changes = self.dir.join(CHANGES_FILE);
        match OpenOptions::new().write(true).open(&changes) {
            Ok(log) => {
                log.set_len(0).map_err(io_error("truncating", &changes))?;
                log.sync_all().map_err(io_error("syncing", &changes))?;
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(io_error("opening", &changes)(source)),
        }
        self.set.clear_changes();
        self.snapshot_bytes = bytes;
        self.log_bytes = 0;
        self.needs_snapshot = false;
        Ok(())
    }

    /// Bytes of the snapshot and of the change log on disk.
    pub fn file_sizes(&self) -> (u64, u64) {
        (self.snapshot_bytes, self.log_bytes)
    }
}

/// Counts the bytes written through it.
struct CountingWriter<'a, W: std::io::Write> {
    inner: &'a mut W,
    bytes: u64,
}

impl<W: std::io::Write> std::io::Write for CountingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The earliest `valid_from` or `valid_until` after `now`.
fn next_boundary(set: &IndicatorSet, now: Timestamp) -> Option<Timestamp> {
    set.next_validity_boundary(now)
}

#[cfg(test)]
mod tests;
