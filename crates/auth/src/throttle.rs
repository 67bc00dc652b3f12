//! Per-source sign-in throttle: failed sign-ins from one address (any accounts) within a
//! window block that address for a while, which slows password spraying that the
//! per-account lock cannot see.
//!
//! The state lives in memory (checked on every sign-in) and in `auth.redb` (table
//! `source_throttle`), so a restart does not lift a block. Refusals during a block are
//! counted, not audited one by one: the audit log gets the block's start, the 1st, 10th,
//! 100th… refusal (with the names tried), and a summary once the block is over, so an
//! attacker hammering a blocked address cannot grow the log beyond a few entries.

use std::collections::HashMap;

use redb::{ReadableTable as _, ReadableTableMetadata as _, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::{AuthError, AuthStore, append_audit};

pub(crate) const SOURCES: TableDefinition<&str, &str> = TableDefinition::new("source_throttle");

/// Most source addresses tracked at once; beyond it the stalest are forgotten, so memory
/// and the table stay bounded under a spray from many addresses.
pub(crate) const MAX_TRACKED_SOURCES: usize = 100_000;

/// Distinct user names remembered per blocked source, for the audit summary.
const MAX_NAMES_KEPT: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SourceState {
    /// Start of the current counting window, unix seconds.
    window_start: i64,
    /// Failures in the window.
    failures: u32,
    /// The block's end, while (or after) one is in force.
    blocked_until: Option<i64>,
    /// Start of that block.
    #[serde(default)]
    blocked_since: Option<i64>,
    /// Sign-ins refused during the block.
    #[serde(default)]
    refused: u64,
    /// Names tried during the block (at most [`MAX_NAMES_KEPT`]).
    #[serde(default)]
    names: Vec<String>,
}

impl SourceState {
    fn fresh(now: i64) -> SourceState {
        SourceState {
            window_start: now,
            failures: 0,
            blocked_until: None,
            blocked_since: None,
            refused: 0,
            names: Vec::new(),
        }
    }

    fn blocked_at(&self, now: i64) -> Option<i64> {
        self.blocked_until.filter(|until| *until > now)
    }

    /// Worth keeping: blocked, or inside a counting window.
    fn live(&self, now: i64, window_secs: i64) -> bool {
        self.blocked_at(now).is_some() || self.window_start + window_secs > now
    }
}

/// The table's entries, loaded at open time (at most [`MAX_TRACKED_SOURCES`]; stale ones
/// go when the map is next pruned, and ended blocks still owe their summary).
pub(crate) fn load(db: &redb::Database) -> Result<HashMap<String, SourceState>, AuthError> {
    use redb::ReadableDatabase as _;
    let txn = db.begin_read()?;
    let table = txn.open_table(SOURCES)?;
    let mut out = HashMap::new();
    for entry in table.iter()? {
        let (key, value) = entry?;
        // A row we cannot read is dropped rather than failing the start.
        if let Ok(state) = serde_json::from_str::<SourceState>(value.value()) {
            out.insert(key.value().to_owned(), state);
        }
        if out.len() >= MAX_TRACKED_SOURCES {
            break;
        }
    }
    Ok(out)
}

/// Whether the `n`th refusal of a block is audited: 1, 10, 100, …
fn audited_refusal(n: u64) -> bool {
    n > 0 && 10u64.pow(n.ilog10()) == n
}

impl AuthStore {
    fn sources(&self) -> std::sync::MutexGuard<'_, HashMap<String, SourceState>> {
        self.sources.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// When `source` is blocked, counts the refusal (auditing only the 1st, 10th, 100th…)
    /// and returns the block's end. `name` is the account tried.
    pub(crate) fn refuse_if_blocked(
        &self,
        source: &str,
        name: &str,
        now: i64,
    ) -> Result<Option<i64>, AuthError> {
        self.settle_ended_block(source, now)?;
        let mut sources = self.sources();
        let Some(state) = sources.get_mut(source) else {
            return Ok(None);
        };
        let Some(until) = state.blocked_at(now) else {
            return Ok(None);
        };
        state.refused = state.refused.saturating_add(1);
        let name: String = name.chars().take(64).collect();
        if state.names.len() < MAX_NAMES_KEPT && !state.names.contains(&name) {
            state.names.push(name.clone());
        }
        if audited_refusal(state.refused) {
            let snapshot = state.clone();
            drop(sources);
            let txn = self.db.begin_write()?;
            {
                let mut table = txn.open_table(SOURCES)?;
                table.insert(source, serde_json::to_string(&snapshot)?.as_str())?;
            }
            append_audit(
                &txn,
                now,
                &name,
                "sign_in_failed",
                None,
                serde_json::json!({
                    "reason": "source_blocked",
                    "source": source,
                    "refused": snapshot.refused,
                    "until": until,
                    "names": snapshot.names,
                }),
            )?;
            txn.commit()?;
        }
        Ok(Some(until))
    }

    /// When `source`'s block is over and refused sign-ins were counted during it, writes
    /// one summary entry (`source_block_ended`) and forgets the block.
    fn settle_ended_block(&self, source: &str, now: i64) -> Result<(), AuthError> {
        let ended = {
            let mut sources = self.sources();
            match sources.get_mut(source) {
                Some(state) if state.blocked_until.is_some() && state.blocked_at(now).is_none() => {
                    let ended = state.clone();
                    state.blocked_until = None;
                    state.blocked_since = None;
                    state.refused = 0;
                    state.names.clear();
                    Some((ended, state.clone()))
                }
                _ => None,
            }
        };
        let Some((ended, now_state)) = ended else {
            return Ok(());
        };
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(SOURCES)?;
            table.insert(source, serde_json::to_string(&now_state)?.as_str())?;
        }
        if ended.refused > 0 {
            append_audit(
                &txn,
                now,
                "system",
                "source_block_ended",
                None,
                serde_json::json!({
                    "source": source,
                    "since": ended.blocked_since,
                    "until": ended.blocked_until,
                    "refused": ended.refused,
                    "names": ended.names,
                }),
            )?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Writes summaries for every block that is over (an attacker who stops never comes
    /// back to trigger [`Self::settle_ended_block`]); the server calls this now and then.
    /// Returns how many blocks were settled.
    /// Also forgets sources whose window is over, so the table does not keep them.
    pub fn settle_ended_blocks(&self, now: i64) -> Result<usize, AuthError> {
        let ended: Vec<String> = self
            .sources()
            .iter()
            .filter(|(_, state)| state.blocked_until.is_some() && state.blocked_at(now).is_none())
            .map(|(source, _)| source.clone())
            .collect();
        for source in &ended {
            self.settle_ended_block(source, now)?;
        }
        let window = self.policy.source_window_secs;
        let stale: Vec<String> = {
            let mut sources = self.sources();
            let stale: Vec<String> = sources
                .iter()
                .filter(|(_, state)| !state.live(now, window) && state.refused == 0)
                .map(|(source, _)| source.clone())
                .collect();
            for source in &stale {
                sources.remove(source);
            }
            stale
        };
        if !stale.is_empty() {
            let txn = self.db.begin_write()?;
            {
                let mut table = txn.open_table(SOURCES)?;
                for source in &stale {
                    table.remove(source.as_str())?;
                }
            }
            txn.commit()?;
        }
        Ok(ended.len())
    }

    /// Counts a failed sign-in from `source` (persisted); returns the block's end when this
    /// failure starts one, after auditing `source_blocked`.
    pub(crate) fn count_source_failure(
        &self,
        source: &str,
        name: &str,
        now: i64,
    ) -> Result<Option<i64>, AuthError> {
        self.settle_ended_block(source, now)?;
        let policy = &self.policy;
        let mut evicted = Vec::new();
        let (state, blocked) = {
            let mut sources = self.sources();
            if sources.len() >= MAX_TRACKED_SOURCES && !sources.contains_key(source) {
                sources.retain(|key, state| {
                    let keep = state.live(now, policy.source_window_secs) || state.refused > 0;
                    if !keep {
                        evicted.push(key.clone());
                    }
                    keep
                });
                if sources.len() >= MAX_TRACKED_SOURCES {
                    let stalest = sources
                        .iter()
                        .min_by_key(|(_, state)| state.window_start)
                        .map(|(key, _)| key.clone());
                    if let Some(key) = stalest {
                        sources.remove(&key);
                        evicted.push(key);
                    }
                }
            }
            let state = sources
                .entry(source.to_owned())
                .or_insert_with(|| SourceState::fresh(now));
            if state.window_start + policy.source_window_secs <= now {
                *state = SourceState::fresh(now);
            }
            state.failures = state.failures.saturating_add(1);
            let mut blocked = None;
            if state.failures >= policy.max_failed_per_source {
                let until = now + policy.source_block_secs;
                // A new window starts when the block ends.
                *state = SourceState {
                    window_start: until,
                    failures: 0,
                    blocked_until: Some(until),
                    blocked_since: Some(now),
                    refused: 0,
                    names: Vec::new(),
                };
                blocked = Some(until);
            }
            (state.clone(), blocked)
        };
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(SOURCES)?;
            for key in &evicted {
                table.remove(key.as_str())?;
            }
            table.insert(source, serde_json::to_string(&state)?.as_str())?;
            // The table follows the memory map; a row the map never loaded (over the cap
            // at open) must not let the table grow without bound.
            if table.len()? as usize > MAX_TRACKED_SOURCES + 1_000 {
                let sources = self.sources();
                let mut doomed = Vec::new();
                for entry in table.iter()? {
                    let (key, _) = entry?;
                    if !sources.contains_key(key.value()) {
                        doomed.push(key.value().to_owned());
                    }
                }
                drop(sources);
                for key in doomed {
                    table.remove(key.as_str())?;
                }
            }
        }
        if let Some(until) = blocked {
            append_audit(
                &txn,
                now,
                name,
                "source_blocked",
                None,
                serde_json::json!({"source": source, "until": until}),
            )?;
        }
        txn.commit()?;
        Ok(blocked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_sources_are_forgotten_by_the_sweep() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.redb");
        let policy = crate::AuthPolicy {
            source_window_secs: 60,
            ..crate::AuthPolicy::recommended()
        };
        let store = AuthStore::open(&path, policy.clone()).unwrap();
        let _ = store.sign_in("nobody", "x", "192.0.2.1", 1_000);
        store.settle_ended_blocks(1_059).unwrap();
        assert_eq!(store.sources().len(), 1);
        store.settle_ended_blocks(1_060).unwrap();
        assert!(store.sources().is_empty());
        drop(store);
        assert!(
            load(&AuthStore::open(&path, policy).unwrap().db)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn audited_refusals_are_powers_of_ten() {
        let audited: Vec<u64> = (0..=2000).filter(|n| audited_refusal(*n)).collect();
        assert_eq!(audited, [1, 10, 100, 1000]);
    }
}
