//! The set's file form (JSON lines) and its change journal: the whole set as a snapshot,
//! or what changed since the last write as change-log lines, and replaying either.

use std::collections::BTreeSet;
use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use super::{DEAD, IndicatorSet, StixVersion};
use crate::compact;
use crate::model::{Indicator, IndicatorKind, PatternIndicator};

/// What changed since the last [`IndicatorSet::write_changes`] (when tracked).
#[derive(Debug, Clone, Default)]
pub(super) struct Journal {
    pub(super) positions: Vec<u32>,
    pub(super) removed: Vec<(IndicatorKind, String)>,
    pub(super) patterns: BTreeSet<String>,
    pub(super) versions: BTreeSet<String>,
}

/// One line of the set's file or change log.
#[derive(Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
enum Line {
    Indicator(Indicator),
    Pattern(PatternIndicator),
    /// Values of a STIX indicator version not found by its id.
    Version(StixVersion),
    /// Change log only: the value is gone (expired).
    Removed {
        kind: IndicatorKind,
        value: String,
    },
    /// Change log only: the pattern-only indicator is gone.
    RemovedPattern {
        id: String,
    },
    /// Change log only: the STIX id no longer has values recorded beside the set.
    RemovedVersion {
        id: String,
    },
}

impl IndicatorSet {
    /// Writes the set as JSON lines (one record per line).
    pub fn write_jsonl(&self, out: &mut impl Write) -> std::io::Result<()> {
        for indicator in self.indicators() {
            write_line(out, &Line::Indicator(indicator))?;
        }
        for pattern in self.patterns.values() {
            write_line(out, &Line::Pattern(pattern.clone()))?;
        }
        for version in self.versions.values() {
            write_line(out, &Line::Version(version.clone()))?;
        }
        Ok(())
    }

    /// The set as JSON lines (one record per line).
    pub fn to_jsonl(&self) -> String {
        let mut out = Vec::new();
        self.write_jsonl(&mut out)
            .expect("writing to memory cannot fail");
        String::from_utf8(out).expect("JSON is UTF-8")
    }

    /// Whether changes wait to be written by [`IndicatorSet::write_changes`].
    pub fn has_changes(&self) -> bool {
        self.journal.as_ref().is_some_and(|j| {
            !j.positions.is_empty()
                || !j.removed.is_empty()
                || !j.patterns.is_empty()
                || !j.versions.is_empty()
        })
    }

    /// Writes what changed since the last call (when tracking, see
    /// [`IndicatorSet::track_changes`]) as change-log lines: the new state of every
    /// changed record, and removals. Replaying them with [`IndicatorSet::read_jsonl`] over
    /// the earlier state gives this state. The changes are forgotten only when writing
    /// succeeded. Returns the number of lines.
    pub fn write_changes(&mut self, out: &mut impl Write) -> std::io::Result<usize> {
        let Some(journal) = &mut self.journal else {
            return Ok(0);
        };
        journal.positions.sort_unstable();
        journal.positions.dedup();
        let journal = self.journal.as_ref().expect("checked above");
        let mut n = 0;
        // Removals first: a value removed and added again in one batch ends up added.
        for (kind, value) in &journal.removed {
            write_line(
                out,
                &Line::Removed {
                    kind: *kind,
                    value: value.clone(),
                },
            )?;
            n += 1;
        }
        for &pos in &journal.positions {
            let at = self.locators[pos as usize];
            if at != DEAD {
                write_line(out, &Line::Indicator(compact::decode(self.arena.get(at))))?;
                n += 1;
            }
        }
        for id in &journal.patterns {
            match self.patterns.get(id) {
                Some(pattern) => write_line(out, &Line::Pattern(pattern.clone()))?,
                None => write_line(out, &Line::RemovedPattern { id: id.clone() })?,
            }
            n += 1;
        }
        for id in &journal.versions {
            match self.versions.get(id) {
                Some(version) => write_line(out, &Line::Version(version.clone()))?,
                None => write_line(out, &Line::RemovedVersion { id: id.clone() })?,
            }
            n += 1;
        }
        self.journal = Some(Journal::default());
        self.compact_memory();
        Ok(n)
    }

    /// Forgets pending changes (after the whole set was written).
    pub fn clear_changes(&mut self) {
        if self.journal.is_some() {
            self.journal = Some(Journal::default());
            self.compact_memory();
        }
    }

    /// Reads JSON lines written by [`IndicatorSet::write_jsonl`] or
    /// [`IndicatorSet::write_changes`] into the set: each record replaces the one known
    /// for its value or id, removals remove. Bad lines are skipped and returned (line
    /// number and reason), never fatal. Read errors end the reading and are returned.
    pub fn read_jsonl(
        &mut self,
        reader: impl BufRead,
        problems: &mut Vec<(usize, String)>,
    ) -> std::io::Result<()> {
        for (idx, line) in reader.split(b'\n').enumerate() {
            let line = line?;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Line>(&line) {
                Ok(line) => self.replay(line),
                Err(error) => problems.push((idx + 1, error.to_string())),
            }
        }
        Ok(())
    }

    fn replay(&mut self, line: Line) {
        match line {
            Line::Indicator(indicator) => self.put(indicator),
            Line::Pattern(pattern) => {
                if let Some(journal) = &mut self.journal {
                    journal.patterns.insert(pattern.id.clone());
                }
                self.patterns.insert(pattern.id.clone(), pattern);
            }
            Line::Version(version) => {
                if let Some(journal) = &mut self.journal {
                    journal.versions.insert(version.id.clone());
                }
                self.versions.insert(version.id.clone(), version);
            }
            Line::Removed { kind, value } => {
                if let Some(pos) = self.key_position(kind, &value) {
                    self.remove_at(pos, kind, value);
                }
            }
            Line::RemovedPattern { id } => {
                self.patterns.remove(&id);
            }
            Line::RemovedVersion { id } => {
                self.versions.remove(&id);
            }
        }
    }

    /// Reads a set written by [`IndicatorSet::to_jsonl`]. Bad lines are skipped and
    /// returned (line number and reason), never fatal.
    pub fn from_jsonl(text: &str) -> (IndicatorSet, Vec<(usize, String)>) {
        let mut set = IndicatorSet::new();
        let mut problems = Vec::new();
        set.read_jsonl(text.as_bytes(), &mut problems)
            .expect("reading from memory cannot fail");
        (set, problems)
    }
}

fn write_line(out: &mut impl Write, line: &Line) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, line)?;
    out.write_all(b"\n")
}
