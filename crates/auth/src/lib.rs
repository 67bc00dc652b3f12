//! Who may do what, and what they did: local users (argon2id password hashes) with roles,
//! console sessions with CSRF tokens, lockout after repeated failed sign-ins, personal API
//! tokens, an append-only audit log, and the triage state of alerts (status, assignee,
//! comments), which the event store keeps immutably. [`oidc`] adds OpenID Connect sign-in
//! (the relying party's protocol; the server supplies the HTTP transport).
//!
//! Everything lives in one redb file, `DATA_DIR/auth.redb`, opened by one process. Secrets
//! (session ids, API tokens) are stored only as SHA-256 digests. Time is passed in as unix
//! seconds so tests need no clock.

#![warn(missing_docs)]

mod error;
mod model;
pub mod oidc;
mod secret;
mod throttle;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use redb::{ReadableDatabase as _, ReadableTable as _, TableDefinition};

pub use error::AuthError;
pub use model::{
    AlertChange, AlertState, AlertStatus, AuditEntry, Comment, NewSession, Principal, Role,
    SavedSearch, TokenInfo, UserInfo, Via,
};
pub use secret::{constant_time_eq, sha256_hex};

use model::{SessionRecord, TokenRecord, UserRecord};

/// File name of the account database inside the data directory.
pub const AUTH_DB_FILE: &str = "auth.redb";
/// File holding the first admin's one-time password.
pub const INITIAL_ADMIN_PASSWORD_FILE: &str = "initial-admin-password";
/// Name of the first admin.
pub const INITIAL_ADMIN: &str = "admin";
/// Prefix of personal API tokens, so leaked ones are easy to grep for.
pub const TOKEN_PREFIX: &str = "snt_";

const USERS: TableDefinition<&str, &str> = TableDefinition::new("users");
const SESSIONS: TableDefinition<&str, &str> = TableDefinition::new("sessions");
const TOKENS: TableDefinition<&str, &str> = TableDefinition::new("tokens");
const AUDIT: TableDefinition<u64, &str> = TableDefinition::new("audit");
const ALERTS: TableDefinition<&str, &str> = TableDefinition::new("alert_state");
/// Saved searches, keyed by `user \u{1f} name`.
const SEARCHES: TableDefinition<&str, &str> = TableDefinition::new("saved_searches");

/// Most saved searches per user.
pub const MAX_SAVED_SEARCHES: usize = 200;

/// Longest comment accepted, in characters.
pub const MAX_COMMENT_CHARS: usize = 10_000;
/// Most comments kept on one alert.
pub const MAX_COMMENTS: usize = 1_000;
/// Most alerts changed by one bulk request.
pub const MAX_BULK: usize = 1_000;

/// Security knobs. [`AuthPolicy::recommended`] is what the server uses.
#[derive(Debug, Clone)]
pub struct AuthPolicy {
    /// Session lifetime, seconds.
    pub session_ttl_secs: i64,
    /// Consecutive failed sign-ins that lock the account.
    pub max_failed_sign_ins: u32,
    /// How long the lock lasts, seconds.
    pub lockout_secs: i64,
    /// Shortest password accepted, characters.
    pub min_password_chars: usize,
    /// Failed sign-ins (any accounts) from one source address within
    /// `source_window_secs` that block the source: slows password spraying, which the
    /// per-account lock cannot see.
    pub max_failed_per_source: u32,
    /// The window those failures are counted in, seconds.
    pub source_window_secs: i64,
    /// How long a blocked source is refused, seconds.
    pub source_block_secs: i64,
}

impl AuthPolicy {
    /// 8-hour sessions (a shift), lock for 15 minutes after 5 failures, 12-character
    /// passwords; a source address with 20 failures in 15 minutes is refused for 15 minutes.
    pub fn recommended() -> AuthPolicy {
        AuthPolicy {
            session_ttl_secs: 8 * 3600,
            max_failed_sign_ins: 5,
            lockout_secs: 15 * 60,
            min_password_chars: 12,
            max_failed_per_source: 20,
            source_window_secs: 15 * 60,
            source_block_secs: 15 * 60,
        }
    }
}

/// The account store. Methods are blocking (file IO, argon2); async callers use
/// `spawn_blocking`.
pub struct AuthStore {
    db: redb::Database,
    policy: AuthPolicy,
    /// Verified against when a user does not exist, so unknown names cost as much time
    /// as wrong passwords.
    dummy_hash: String,
    /// Recent failed sign-ins and blocks per source address: checked here, kept in the
    /// `source_throttle` table too so a restart does not lift a block (see `throttle`).
    sources: std::sync::Mutex<HashMap<String, throttle::SourceState>>,
}

impl std::fmt::Debug for AuthStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthStore")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

fn get_json<T: serde::de::DeserializeOwned>(
    table: &impl redb::ReadableTable<&'static str, &'static str>,
    key: &str,
) -> Result<Option<T>, AuthError> {
    match table.get(key)? {
        Some(value) => Ok(Some(serde_json::from_str(value.value())?)),
        None => Ok(None),
    }
}

fn put_json<T: serde::Serialize>(
    table: &mut redb::Table<&'static str, &'static str>,
    key: &str,
    value: &T,
) -> Result<(), AuthError> {
    let json = serde_json::to_string(value)?;
    table.insert(key, json.as_str())?;
    Ok(())
}

fn validate_user_name(name: &str) -> Result<(), AuthError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(AuthError::Invalid(
            "user names are 1-64 characters: letters, digits, `.`, `_`, `-`, `@`".to_owned(),
        ))
    }
}

fn validate_language(language: &str) -> Result<(), AuthError> {
    if matches!(language, "en" | "it") {
        Ok(())
    } else {
        Err(AuthError::Invalid(format!(
            "unsupported language `{language}` (en, it)"
        )))
    }
}

fn append_audit(
    txn: &redb::WriteTransaction,
    time: i64,
    actor: &str,
    action: &str,
    target: Option<&str>,
    detail: serde_json::Value,
) -> Result<(), AuthError> {
    let mut table = txn.open_table(AUDIT)?;
    let seq = table.last()?.map(|(key, _)| key.value()).unwrap_or(0) + 1;
    let entry = AuditEntry {
        seq,
        time,
        actor: actor.to_owned(),
        action: action.to_owned(),
        target: target.map(str::to_owned),
        detail,
    };
    let json = serde_json::to_string(&entry)?;
    table.insert(seq, json.as_str())?;
    Ok(())
}

impl AuthStore {
    /// Opens (creating if needed) the account database at `path`.
    pub fn open(path: &Path, policy: AuthPolicy) -> Result<AuthStore, AuthError> {
        let db = redb::Database::create(path)?;
        // Create every table so read transactions never meet a missing one.
        let txn = db.begin_write()?;
        txn.open_table(USERS)?;
        txn.open_table(SESSIONS)?;
        txn.open_table(TOKENS)?;
        txn.open_table(AUDIT)?;
        txn.open_table(ALERTS)?;
        txn.open_table(SEARCHES)?;
        txn.open_table(throttle::SOURCES)?;
        txn.commit()?;
        let dummy_hash = secret::hash_password(&secret::random_hex(16)?)?;
        let sources = throttle::load(&db)?;
        Ok(AuthStore {
            db,
            policy,
            dummy_hash,
            sources: std::sync::Mutex::new(sources),
        })
    }

    /// Opens `DATA_DIR/auth.redb` with the recommended policy.
    pub fn open_in(data_dir: &Path) -> Result<AuthStore, AuthError> {
        AuthStore::open(&data_dir.join(AUTH_DB_FILE), AuthPolicy::recommended())
    }

    /// The policy in force.
    pub fn policy(&self) -> &AuthPolicy {
        &self.policy
    }

    /// When there is no user yet, creates [`INITIAL_ADMIN`] with a random one-time
    /// password written to `DATA_DIR/initial-admin-password` (mode 0600) and returns that
    /// path. The admin must change the password at first sign-in.
    pub fn ensure_initial_admin(
        &self,
        data_dir: &Path,
        now: i64,
    ) -> Result<Option<PathBuf>, AuthError> {
        if !self.list_users()?.is_empty() {
            return Ok(None);
        }
        let password = secret::random_hex(12)?;
        let path = data_dir.join(INITIAL_ADMIN_PASSWORD_FILE);
        write_private(&path, format!("{password}\n").as_bytes())
            .map_err(|err| AuthError::Storage(format!("writing {}: {err}", path.display())))?;
        self.create_user(INITIAL_ADMIN, Role::Admin, &password, "system", now, true)?;
        Ok(Some(path))
    }

    /// Adds a user. `actor` is recorded in the audit log.
    pub fn add_user(
        &self,
        name: &str,
        role: Role,
        password: &str,
        actor: &str,
        now: i64,
    ) -> Result<UserInfo, AuthError> {
        self.create_user(name, role, password, actor, now, false)
    }

    fn create_user(
        &self,
        name: &str,
        role: Role,
        password: &str,
        actor: &str,
        now: i64,
        must_change_password: bool,
    ) -> Result<UserInfo, AuthError> {
        validate_user_name(name)?;
        self.validate_password(password)?;
        let record = UserRecord {
            name: name.to_owned(),
            role,
            password_hash: secret::hash_password(password)?,
            disabled: false,
            failed_sign_ins: 0,
            locked_until: None,
            language: None,
            created: now,
            must_change_password,
            external: None,
        };
        let txn = self.db.begin_write()?;
        {
            let mut users = txn.open_table(USERS)?;
            if users.get(name)?.is_some() {
                return Err(AuthError::UserExists(name.to_owned()));
            }
            put_json(&mut users, name, &record)?;
        }
        append_audit(
            &txn,
            now,
            actor,
            "user_created",
            Some(name),
            serde_json::json!({"role": role}),
        )?;
        txn.commit()?;
        Ok(record.info())
    }

    fn validate_password(&self, password: &str) -> Result<(), AuthError> {
        let chars = password.chars().count();
        if chars < self.policy.min_password_chars || chars > 1024 {
            return Err(AuthError::Invalid(format!(
                "passwords are {} to 1024 characters",
                self.policy.min_password_chars
            )));
        }
        Ok(())
    }

    /// Every user, by name.
    pub fn list_users(&self) -> Result<Vec<UserInfo>, AuthError> {
        let txn = self.db.begin_read()?;
        let users = txn.open_table(USERS)?;
        let mut out = Vec::new();
        for entry in users.iter()? {
            let (_, value) = entry?;
            let record: UserRecord = serde_json::from_str(value.value())?;
            out.push(record.info());
        }
        Ok(out)
    }

    /// One user.
    pub fn user(&self, name: &str) -> Result<UserInfo, AuthError> {
        let txn = self.db.begin_read()?;
        let users = txn.open_table(USERS)?;
        get_json::<UserRecord>(&users, name)?
            .map(|record| record.info())
            .ok_or_else(|| AuthError::NoSuchUser(name.to_owned()))
    }

    /// Applies `change` to a stored user inside one write transaction with its audit entry.
    fn update_user(
        &self,
        name: &str,
        actor: &str,
        now: i64,
        (action, detail): (&str, serde_json::Value),
        change: impl FnOnce(&mut UserRecord) -> Result<(), AuthError>,
        end_sessions: bool,
    ) -> Result<UserInfo, AuthError> {
        let txn = self.db.begin_write()?;
        let info = {
            let mut users = txn.open_table(USERS)?;
            let mut record: UserRecord =
                get_json(&users, name)?.ok_or_else(|| AuthError::NoSuchUser(name.to_owned()))?;
            // A refusal drops the transaction: nothing written, nothing audited.
            change(&mut record)?;
            put_json(&mut users, name, &record)?;
            record.info()
        };
        if end_sessions {
            remove_where(&txn, SESSIONS, |json| {
                serde_json::from_str::<SessionRecord>(json).is_ok_and(|s| s.user == name)
            })?;
        }
        append_audit(&txn, now, actor, action, Some(name), detail)?;
        txn.commit()?;
        Ok(info)
    }

    /// Sets a new password, unlocks the account and ends the user's sessions. Refused
    /// ([`AuthError::ProviderOnly`]) for a user who signs in only through the OpenID
    /// Provider: see [`AuthStore::set_local_password`].
    pub fn set_password(
        &self,
        name: &str,
        password: &str,
        actor: &str,
        now: i64,
    ) -> Result<UserInfo, AuthError> {
        self.reset_password(name, password, actor, now, false)
    }

    /// [`AuthStore::set_password`], also for a user who signs in only through the OpenID
    /// Provider: an admin's explicit decision to give them a local password, a second way
    /// in that the provider's policies (MFA, offboarding) do not govern. The audit entry
    /// says so.
    pub fn set_local_password(
        &self,
        name: &str,
        password: &str,
        actor: &str,
        now: i64,
    ) -> Result<UserInfo, AuthError> {
        self.reset_password(name, password, actor, now, true)
    }

    fn reset_password(
        &self,
        name: &str,
        password: &str,
        actor: &str,
        now: i64,
        allow_local_password: bool,
    ) -> Result<UserInfo, AuthError> {
        self.validate_password(password)?;
        let hash = secret::hash_password(password)?;
        // Decided before the write, recorded in the same transaction: whether this gives a
        // provider-only user their first local password.
        let provider_only = self.user_record(name)?.password_hash == oidc::NO_PASSWORD;
        let detail = if provider_only {
            serde_json::json!({"local_password_for_provider_user": true})
        } else {
            serde_json::json!({})
        };
        self.update_user(
            name,
            actor,
            now,
            ("password_changed", detail),
            |record| {
                let now_provider_only = record.password_hash == oidc::NO_PASSWORD;
                if now_provider_only != provider_only
                    || (now_provider_only && !allow_local_password)
                {
                    return Err(AuthError::ProviderOnly(record.name.clone()));
                }
                record.password_hash = hash;
                record.failed_sign_ins = 0;
                record.locked_until = None;
                record.must_change_password = false;
                Ok(())
            },
            true,
        )
    }

    /// A user changing their own password must prove the current one.
    pub fn change_own_password(
        &self,
        name: &str,
        current: &str,
        new: &str,
        now: i64,
    ) -> Result<UserInfo, AuthError> {
        let record = self.user_record(name)?;
        if !secret::verify_password(current, &record.password_hash) {
            return Err(AuthError::InvalidCredentials);
        }
        self.set_password(name, new, name, now)
    }

    /// Changes a user's role.
    pub fn set_role(
        &self,
        name: &str,
        role: Role,
        actor: &str,
        now: i64,
    ) -> Result<UserInfo, AuthError> {
        self.update_user(
            name,
            actor,
            now,
            ("user_role_changed", serde_json::json!({"role": role})),
            |record| {
                record.role = role;
                Ok(())
            },
            false,
        )
    }

    /// Disables or re-enables a user; disabling ends their sessions (tokens stop
    /// working while disabled).
    pub fn set_disabled(
        &self,
        name: &str,
        disabled: bool,
        actor: &str,
        now: i64,
    ) -> Result<UserInfo, AuthError> {
        let action = if disabled {
            "user_disabled"
        } else {
            "user_enabled"
        };
        self.update_user(
            name,
            actor,
            now,
            (action, serde_json::json!({})),
            |record| {
                record.disabled = disabled;
                if !disabled {
                    record.failed_sign_ins = 0;
                    record.locked_until = None;
                }
                Ok(())
            },
            disabled,
        )
    }

    /// Sets the user's console language (`en` or `it`).
    pub fn set_language(&self, name: &str, language: &str) -> Result<UserInfo, AuthError> {
        validate_language(language)?;
        let txn = self.db.begin_write()?;
        let info = {
            let mut users = txn.open_table(USERS)?;
            let mut record: UserRecord =
                get_json(&users, name)?.ok_or_else(|| AuthError::NoSuchUser(name.to_owned()))?;
            record.language = Some(language.to_owned());
            put_json(&mut users, name, &record)?;
            record.info()
        };
        txn.commit()?;
        Ok(info)
    }

    fn user_record(&self, name: &str) -> Result<UserRecord, AuthError> {
        let txn = self.db.begin_read()?;
        let users = txn.open_table(USERS)?;
        get_json(&users, name)?.ok_or_else(|| AuthError::NoSuchUser(name.to_owned()))
    }

    /// Checks a password and opens a new session (a fresh random id every time, so a
    /// session id planted before sign-in is worthless). Failures count towards lockout;
    /// a locked account is refused without checking the password.
    pub fn sign_in(
        &self,
        name: &str,
        password: &str,
        source: &str,
        now: i64,
    ) -> Result<NewSession, AuthError> {
        if let Some(until) = self.refuse_if_blocked(source, name, now)? {
            return Err(AuthError::SourceBlocked { until });
        }
        let result = self.check_sign_in(name, password, source, now);
        if matches!(
            result,
            Err(AuthError::InvalidCredentials | AuthError::Locked { .. })
        ) {
            self.count_source_failure(source, name, now)?;
        }
        result
    }

    fn check_sign_in(
        &self,
        name: &str,
        password: &str,
        source: &str,
        now: i64,
    ) -> Result<NewSession, AuthError> {
        let record = match validate_user_name(name) {
            Ok(()) => self.user_record(name).ok(),
            Err(_) => None,
        };
        let Some(record) = record else {
            let _ = secret::verify_password(password, &self.dummy_hash);
            self.audit_only(
                now,
                name,
                "sign_in_failed",
                None,
                serde_json::json!({"reason": "unknown_user", "source": source}),
            )?;
            return Err(AuthError::InvalidCredentials);
        };
        if let Some(until) = record.locked_until.filter(|until| *until > now) {
            self.audit_only(
                now,
                name,
                "sign_in_failed",
                Some(name),
                serde_json::json!({"reason": "locked", "source": source}),
            )?;
            return Err(AuthError::Locked { until });
        }
        let password_ok = secret::verify_password(password, &record.password_hash);
        let txn = self.db.begin_write()?;
        let outcome = {
            let mut users = txn.open_table(USERS)?;
            // Re-read inside the write transaction so concurrent failures all count.
            let mut record: UserRecord =
                get_json(&users, name)?.ok_or_else(|| AuthError::NoSuchUser(name.to_owned()))?;
            if !password_ok {
                record.failed_sign_ins = record.failed_sign_ins.saturating_add(1);
                let locked = record.failed_sign_ins >= self.policy.max_failed_sign_ins;
                if locked {
                    record.locked_until = Some(now + self.policy.lockout_secs);
                    record.failed_sign_ins = 0;
                }
                put_json(&mut users, name, &record)?;
                Err((locked, record.locked_until))
            } else if record.disabled {
                Err((false, None))
            } else {
                record.failed_sign_ins = 0;
                record.locked_until = None;
                put_json(&mut users, name, &record)?;
                Ok(record.info())
            }
        };
        match outcome {
            Err((locked, until)) => {
                let reason = if record.disabled && password_ok {
                    "disabled"
                } else {
                    "bad_password"
                };
                append_audit(
                    &txn,
                    now,
                    name,
                    "sign_in_failed",
                    Some(name),
                    serde_json::json!({"reason": reason, "source": source}),
                )?;
                if locked {
                    append_audit(
                        &txn,
                        now,
                        name,
                        "user_locked",
                        Some(name),
                        serde_json::json!({"until": until}),
                    )?;
                }
                txn.commit()?;
                if reason == "disabled" {
                    Err(AuthError::Disabled)
                } else {
                    Err(AuthError::InvalidCredentials)
                }
            }
            Ok(user) => {
                let session = self.open_session(&txn, user, None, now)?;
                append_audit(
                    &txn,
                    now,
                    name,
                    "sign_in",
                    Some(name),
                    serde_json::json!({"source": source}),
                )?;
                txn.commit()?;
                Ok(session)
            }
        }
    }

    /// Stores a new session for `user` in `txn` (a fresh random id every time, so an id
    /// planted before sign-in is worthless) and drops expired ones. `id_token`: the
    /// provider's, for an OpenID Connect sign-in.
    fn open_session(
        &self,
        txn: &redb::WriteTransaction,
        user: UserInfo,
        id_token: Option<String>,
        now: i64,
    ) -> Result<NewSession, AuthError> {
        let id = secret::random_hex(32)?;
        let csrf = secret::random_hex(32)?;
        let expires = now + self.policy.session_ttl_secs;
        {
            let mut sessions = txn.open_table(SESSIONS)?;
            put_json(
                &mut sessions,
                &secret::digest(&id),
                &SessionRecord {
                    user: user.name.clone(),
                    csrf: csrf.clone(),
                    created: now,
                    expires,
                    id_token,
                },
            )?;
        }
        remove_where(txn, SESSIONS, |json| {
            serde_json::from_str::<SessionRecord>(json).is_ok_and(|s| s.expires <= now)
        })?;
        Ok(NewSession {
            id,
            csrf,
            expires,
            user,
        })
    }

    /// The principal behind a session cookie, if the session is live and its user enabled.
    pub fn session(&self, id: &str, now: i64) -> Result<Option<Principal>, AuthError> {
        let txn = self.db.begin_read()?;
        let sessions = txn.open_table(SESSIONS)?;
        let Some(session) = get_json::<SessionRecord>(&sessions, &secret::digest(id))? else {
            return Ok(None);
        };
        if session.expires <= now {
            return Ok(None);
        }
        let users = txn.open_table(USERS)?;
        Ok(get_json::<UserRecord>(&users, &session.user)?
            .filter(|user| !user.disabled)
            .map(|user| Principal {
                name: user.name,
                role: user.role,
                via: Via::Session {
                    csrf: session.csrf,
                    id: id.to_owned(),
                },
                must_change_password: user.must_change_password,
            }))
    }

    /// Ends a session. Returns the ID token of an OpenID Connect session (for signing out
    /// at the provider too), `None` for a password session or an unknown id.
    pub fn sign_out(&self, id: &str, now: i64) -> Result<Option<String>, AuthError> {
        let txn = self.db.begin_write()?;
        let removed = {
            let mut sessions = txn.open_table(SESSIONS)?;
            let removed = sessions.remove(secret::digest(id).as_str())?;
            removed.map(|value| value.value().to_owned())
        };
        let mut id_token = None;
        if let Some(json) = removed
            && let Ok(session) = serde_json::from_str::<SessionRecord>(&json)
        {
            append_audit(
                &txn,
                now,
                &session.user,
                "sign_out",
                Some(&session.user),
                serde_json::json!({}),
            )?;
            id_token = session.id_token;
        }
        txn.commit()?;
        Ok(id_token)
    }

    /// Creates a personal API token for `user`. Returns the secret (shown once) and its
    /// listing entry.
    pub fn create_token(
        &self,
        user: &str,
        name: &str,
        expires: Option<i64>,
        now: i64,
    ) -> Result<(String, TokenInfo), AuthError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AuthError::Invalid(
                "token names are 1-100 characters".to_owned(),
            ));
        }
        self.user_record(user)?;
        let secret = format!("{TOKEN_PREFIX}{}", secret::random_hex(32)?);
        let record = TokenRecord {
            id: secret::random_hex(8)?,
            name: name.to_owned(),
            user: user.to_owned(),
            created: now,
            expires,
        };
        let txn = self.db.begin_write()?;
        {
            let mut tokens = txn.open_table(TOKENS)?;
            put_json(&mut tokens, &secret::digest(&secret), &record)?;
        }
        append_audit(
            &txn,
            now,
            user,
            "token_created",
            Some(&record.id),
            serde_json::json!({"name": name}),
        )?;
        txn.commit()?;
        Ok((secret, TokenInfo::from(&record)))
    }

    /// Tokens of `user`, or of everyone when `None`.
    pub fn list_tokens(&self, user: Option<&str>) -> Result<Vec<TokenInfo>, AuthError> {
        let txn = self.db.begin_read()?;
        let tokens = txn.open_table(TOKENS)?;
        let mut out = Vec::new();
        for entry in tokens.iter()? {
            let (_, value) = entry?;
            let record: TokenRecord = serde_json::from_str(value.value())?;
            if user.is_none_or(|user| user == record.user) {
                out.push(TokenInfo::from(&record));
            }
        }
        out.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        Ok(out)
    }

    /// Revokes a token by its public id. `owner` restricts to that user's tokens (`None`:
    /// any, for admins).
    pub fn revoke_token(
        &self,
        id: &str,
        owner: Option<&str>,
        actor: &str,
        now: i64,
    ) -> Result<(), AuthError> {
        let txn = self.db.begin_write()?;
        let found = remove_where(&txn, TOKENS, |json| {
            serde_json::from_str::<TokenRecord>(json)
                .is_ok_and(|t| t.id == id && owner.is_none_or(|owner| owner == t.user))
        })?;
        if found == 0 {
            return Err(AuthError::NoSuchToken(id.to_owned()));
        }
        append_audit(
            &txn,
            now,
            actor,
            "token_revoked",
            Some(id),
            serde_json::json!({}),
        )?;
        txn.commit()?;
        Ok(())
    }

    /// The principal behind a personal API token, if valid and its user enabled.
    pub fn check_token(&self, secret: &str, now: i64) -> Result<Option<Principal>, AuthError> {
        if !secret.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let txn = self.db.begin_read()?;
        let tokens = txn.open_table(TOKENS)?;
        let Some(token) = get_json::<TokenRecord>(&tokens, &secret::digest(secret))? else {
            return Ok(None);
        };
        if token.expires.is_some_and(|expires| expires <= now) {
            return Ok(None);
        }
        let users = txn.open_table(USERS)?;
        Ok(get_json::<UserRecord>(&users, &token.user)?
            .filter(|user| !user.disabled)
            .map(|user| Principal {
                name: user.name,
                role: user.role,
                via: Via::Token {
                    name: Some(token.name),
                },
                must_change_password: false,
            }))
    }

    fn audit_only(
        &self,
        now: i64,
        actor: &str,
        action: &str,
        target: Option<&str>,
        detail: serde_json::Value,
    ) -> Result<(), AuthError> {
        let txn = self.db.begin_write()?;
        append_audit(&txn, now, actor, action, target, detail)?;
        txn.commit()?;
        Ok(())
    }

    /// Appends an entry to the audit log (for actions other crates perform, e.g. rule
    /// changes). Actor and action are truncated to 200 characters.
    pub fn audit(
        &self,
        actor: &str,
        action: &str,
        target: Option<&str>,
        detail: serde_json::Value,
        now: i64,
    ) -> Result<(), AuthError> {
        let cut = |text: &str| text.chars().take(200).collect::<String>();
        self.audit_only(
            now,
            &cut(actor),
            &cut(action),
            target.map(cut).as_deref(),
            detail,
        )
    }

    /// Audit entries newest first, those with `seq < before` when given.
    pub fn audit_log(
        &self,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, AuthError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(AUDIT)?;
        let mut out = Vec::new();
        let range = table.range(..before.unwrap_or(u64::MAX))?;
        for entry in range.rev().take(limit) {
            let (_, value) = entry?;
            out.push(serde_json::from_str(value.value())?);
        }
        Ok(out)
    }

    /// Triage state of the given alerts (those never touched are absent: status `new`).
    pub fn alert_states(&self, ids: &[String]) -> Result<HashMap<String, AlertState>, AuthError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(ALERTS)?;
        let mut out = HashMap::new();
        for id in ids {
            if let Some(state) = get_json::<AlertState>(&table, id)? {
                out.insert(id.clone(), state);
            }
        }
        Ok(out)
    }

    /// Applies one change to every alert in `ids` (one transaction, one audit entry per
    /// alert) and returns their new states.
    pub fn change_alerts(
        &self,
        ids: &[String],
        change: &AlertChange,
        actor: &str,
        now: i64,
    ) -> Result<Vec<AlertState>, AuthError> {
        if ids.is_empty() || ids.len() > MAX_BULK {
            return Err(AuthError::Invalid(format!(
                "between 1 and {MAX_BULK} alerts per change"
            )));
        }
        if ids.iter().any(|id| id.is_empty() || id.len() > 128) {
            return Err(AuthError::Invalid("invalid alert id".to_owned()));
        }
        let comment = change.comment.as_deref().map(str::trim);
        if comment.is_some_and(|text| text.is_empty() || text.chars().count() > MAX_COMMENT_CHARS) {
            return Err(AuthError::Invalid(format!(
                "comments are 1 to {MAX_COMMENT_CHARS} characters"
            )));
        }
        if change.status.is_none() && change.assignee.is_none() && comment.is_none() {
            return Err(AuthError::Invalid(
                "nothing to change: give status, assignee or comment".to_owned(),
            ));
        }
        let assignee = match change.assignee.as_deref() {
            Some("") => Some(None),
            Some(name) => {
                self.user_record(name)?;
                Some(Some(name.to_owned()))
            }
            None => None,
        };
        let txn = self.db.begin_write()?;
        let mut states = Vec::with_capacity(ids.len());
        for id in ids {
            let (previous, state) = {
                let mut table = txn.open_table(ALERTS)?;
                let previous: Option<AlertState> = get_json(&table, id)?;
                let mut state = previous.clone().unwrap_or(AlertState {
                    status: AlertStatus::New,
                    assignee: None,
                    comments: Vec::new(),
                    updated: now,
                    updated_by: actor.to_owned(),
                });
                if let Some(status) = change.status {
                    state.status = status;
                }
                if let Some(assignee) = &assignee {
                    state.assignee = assignee.clone();
                }
                if let Some(text) = comment {
                    if state.comments.len() >= MAX_COMMENTS {
                        return Err(AuthError::Invalid(format!(
                            "an alert holds at most {MAX_COMMENTS} comments"
                        )));
                    }
                    state.comments.push(Comment {
                        time: now,
                        author: actor.to_owned(),
                        text: text.to_owned(),
                    });
                }
                state.updated = now;
                state.updated_by = actor.to_owned();
                put_json(&mut table, id, &state)?;
                (previous, state)
            };
            let from = previous.map_or(AlertStatus::New, |p| p.status);
            append_audit(
                &txn,
                now,
                actor,
                "alert_changed",
                Some(id),
                serde_json::json!({
                    "from": from,
                    "status": change.status,
                    "assignee": change.assignee,
                    "comment": comment.is_some(),
                }),
            )?;
            states.push(state);
        }
        txn.commit()?;
        Ok(states)
    }
}

impl AuthStore {
    /// The user's saved searches, by name.
    pub fn saved_searches(&self, user: &str) -> Result<Vec<SavedSearch>, AuthError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(SEARCHES)?;
        let prefix = format!("{user}\u{1f}");
        let mut out = Vec::new();
        for entry in table.range(prefix.as_str()..)? {
            let (key, value) = entry?;
            if !key.value().starts_with(&prefix) {
                break;
            }
            out.push(serde_json::from_str(value.value())?);
        }
        Ok(out)
    }

    /// Saves (or replaces) a search under `name` for `user`.
    pub fn save_search(&self, user: &str, search: &SavedSearch) -> Result<(), AuthError> {
        let name = search.name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.contains('\u{1f}') {
            return Err(AuthError::Invalid(
                "saved search names are 1-100 characters".to_owned(),
            ));
        }
        if search.query.chars().count() > 10_000 || search.range.chars().count() > 100 {
            return Err(AuthError::Invalid("saved search too long".to_owned()));
        }
        let existing = self.saved_searches(user)?;
        if existing.len() >= MAX_SAVED_SEARCHES && !existing.iter().any(|s| s.name == name) {
            return Err(AuthError::Invalid(format!(
                "at most {MAX_SAVED_SEARCHES} saved searches per user"
            )));
        }
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(SEARCHES)?;
            let stored = SavedSearch {
                name: name.to_owned(),
                ..search.clone()
            };
            put_json(&mut table, &format!("{user}\u{1f}{name}"), &stored)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Deletes a saved search; `false` when there was none.
    pub fn delete_search(&self, user: &str, name: &str) -> Result<bool, AuthError> {
        let txn = self.db.begin_write()?;
        let removed = {
            let mut table = txn.open_table(SEARCHES)?;
            table
                .remove(format!("{user}\u{1f}{name}").as_str())?
                .is_some()
        };
        txn.commit()?;
        Ok(removed)
    }
}

/// Removes every row whose JSON value satisfies `matches`; returns how many.
fn remove_where(
    txn: &redb::WriteTransaction,
    definition: TableDefinition<&'static str, &'static str>,
    matches: impl Fn(&str) -> bool,
) -> Result<usize, AuthError> {
    let mut table = txn.open_table(definition)?;
    let mut doomed = Vec::new();
    for entry in table.iter()? {
        let (key, value) = entry?;
        if matches(value.value()) {
            doomed.push(key.value().to_owned());
        }
    }
    for key in &doomed {
        table.remove(key.as_str())?;
    }
    Ok(doomed.len())
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests;
