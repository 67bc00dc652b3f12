//! What the account store keeps: users, sessions, API tokens, audit entries, alert state.

use serde::{Deserialize, Serialize};

use crate::AuthError;

/// What a principal may do. Ordered: each role can do everything the lower ones can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads events, alerts and dashboards.
    Viewer,
    /// Also triages alerts, ingests, runs hunts, tunes rules.
    Analyst,
    /// Also manages users, reads the audit log.
    Admin,
}

impl Role {
    /// The lowercase name used in the API and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = AuthError;
    fn from_str(text: &str) -> Result<Role, AuthError> {
        match text {
            "viewer" => Ok(Role::Viewer),
            "analyst" => Ok(Role::Analyst),
            "admin" => Ok(Role::Admin),
            other => Err(AuthError::Invalid(format!(
                "unknown role `{other}` (admin, analyst or viewer)"
            ))),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored user, with its password hash. Never serialized to clients: see [`UserInfo`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UserRecord {
    pub name: String,
    pub role: Role,
    pub password_hash: String,
    pub disabled: bool,
    /// Consecutive failed sign-ins since the last success.
    pub failed_sign_ins: u32,
    /// Unix second until which sign-in is refused.
    pub locked_until: Option<i64>,
    /// `en` or `it`; `None` follows the browser.
    pub language: Option<String>,
    pub created: i64,
    /// Set for the first admin's one-time password.
    #[serde(default)]
    pub must_change_password: bool,
    /// The OpenID Provider account this user is bound to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<crate::oidc::ExternalIdentity>,
}

impl UserRecord {
    pub fn info(&self) -> UserInfo {
        UserInfo {
            name: self.name.clone(),
            role: self.role,
            disabled: self.disabled,
            locked_until: self.locked_until,
            language: self.language.clone(),
            created: self.created,
            must_change_password: self.must_change_password,
            password: self.password_hash != crate::oidc::NO_PASSWORD,
            oidc_issuer: self
                .external
                .as_ref()
                .map(|external| external.issuer.clone()),
        }
    }
}

/// A user as shown to admins and to the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    /// Sign-in name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Disabled users cannot sign in and their sessions and tokens stop working.
    pub disabled: bool,
    /// Unix second until which sign-in is refused after repeated failures.
    pub locked_until: Option<i64>,
    /// Preferred console language.
    pub language: Option<String>,
    /// Unix second of creation.
    pub created: i64,
    /// The password is a one-time password: change it before doing anything else.
    pub must_change_password: bool,
    /// Has a password; `false` for users created at their first OpenID Connect sign-in,
    /// who sign in through the provider only.
    #[serde(default = "has_password")]
    pub password: bool,
    /// The OpenID Provider (issuer) the user is bound to, if any.
    #[serde(default)]
    pub oidc_issuer: Option<String>,
}

fn has_password() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SessionRecord {
    pub user: String,
    pub csrf: String,
    pub created: i64,
    pub expires: i64,
    /// The ID token of an OpenID Connect sign-in: the `id_token_hint` of the
    /// provider's sign-out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// A freshly created session: the secret id goes into the cookie, once.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// 256-bit random id (hex); only its digest is stored.
    pub id: String,
    /// CSRF token the console must echo in `X-CSRF-Token` on state-changing requests.
    pub csrf: String,
    /// Unix second the session ends.
    pub expires: i64,
    /// Who signed in.
    pub user: UserInfo,
}

/// Who is calling, once a session, API token or admin token has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// User name (`admin-token` for the data dir's admin token).
    pub name: String,
    /// Effective role.
    pub role: Role,
    /// How the caller authenticated.
    pub via: Via,
    /// Signed in with a one-time password: only the password change is allowed.
    pub must_change_password: bool,
}

/// How a principal authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A console session cookie; state-changing requests must carry its CSRF token.
    Session {
        /// The session's CSRF token.
        csrf: String,
        /// The secret session id (to sign out).
        id: String,
    },
    /// A bearer token (personal API token or the admin token); not sent by browsers on
    /// their own, so exempt from CSRF.
    Token {
        /// The personal token's name (tells one user's scripts apart); `None` for the
        /// data dir's admin token.
        name: Option<String>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TokenRecord {
    pub id: String,
    pub name: String,
    pub user: String,
    pub created: i64,
    pub expires: Option<i64>,
}

/// A personal API token as listed (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// Public id, used to revoke.
    pub id: String,
    /// What the owner called it.
    pub name: String,
    /// Owner.
    pub user: String,
    /// Unix second of creation.
    pub created: i64,
    /// Unix second it stops working, if any.
    pub expires: Option<i64>,
}

impl From<&TokenRecord> for TokenInfo {
    fn from(record: &TokenRecord) -> Self {
        TokenInfo {
            id: record.id.clone(),
            name: record.name.clone(),
            user: record.user.clone(),
            created: record.created,
            expires: record.expires,
        }
    }
}

/// One audit log entry. The log is append-only: nothing in the product edits or deletes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log, from 1.
    pub seq: u64,
    /// Unix second.
    pub time: i64,
    /// Who acted (user name, `admin-token`, or the name tried in a failed sign-in).
    pub actor: String,
    /// What happened, e.g. `sign_in`, `sign_in_failed`, `user_role_changed`.
    pub action: String,
    /// What it happened to (user, token id, alert id, rule), if anything.
    pub target: Option<String>,
    /// Details (JSON object).
    pub detail: serde_json::Value,
}

/// Where an alert is in triage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// Not looked at yet.
    New,
    /// Someone is on it.
    Acknowledged,
    /// Closed: it was an attack (or a real policy violation).
    ClosedTruePositive,
    /// Closed: benign.
    ClosedFalsePositive,
}

impl AlertStatus {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::New => "new",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::ClosedTruePositive => "closed_true_positive",
            AlertStatus::ClosedFalsePositive => "closed_false_positive",
        }
    }

    /// Whether the alert is closed.
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            AlertStatus::ClosedTruePositive | AlertStatus::ClosedFalsePositive
        )
    }
}

impl std::str::FromStr for AlertStatus {
    type Err = AuthError;
    fn from_str(text: &str) -> Result<AlertStatus, AuthError> {
        match text {
            "new" => Ok(AlertStatus::New),
            "acknowledged" => Ok(AlertStatus::Acknowledged),
            "closed_true_positive" => Ok(AlertStatus::ClosedTruePositive),
            "closed_false_positive" => Ok(AlertStatus::ClosedFalsePositive),
            other => Err(AuthError::Invalid(format!(
                "unknown alert status `{other}` (new, acknowledged, closed_true_positive, closed_false_positive)"
            ))),
        }
    }
}

/// A comment on an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    /// Unix second.
    pub time: i64,
    /// Author.
    pub author: String,
    /// Text (plain text; the console renders it as text).
    pub text: String,
}

/// Triage state of one alert: kept beside the store, which holds alerts immutably.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertState {
    /// Current status.
    pub status: AlertStatus,
    /// Who owns it.
    pub assignee: Option<String>,
    /// Comments, oldest first.
    pub comments: Vec<Comment>,
    /// Unix second of the last change.
    pub updated: i64,
    /// Who made the last change.
    pub updated_by: String,
}

/// A triage change: every `Some` field is applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AlertChange {
    /// New status.
    pub status: Option<AlertStatus>,
    /// New assignee; `Some("")` clears it.
    pub assignee: Option<String>,
    /// A comment to add.
    pub comment: Option<String>,
}

/// A search a user saved in the console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedSearch {
    /// Name shown in the list (unique per user).
    pub name: String,
    /// The query, in the search language.
    pub query: String,
    /// The console's time range key (`24h`, `7d`, `all`, ...).
    #[serde(default)]
    pub range: String,
}
