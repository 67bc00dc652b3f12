//! Signing in an identity the OpenID Provider vouched for: provisioning, binding to the
//! provider's subject, role sync from the claims, and the audit trail.

use serde::{Deserialize, Serialize};

use super::Identity;
use crate::model::UserRecord;
use crate::{AuthError, AuthStore, NewSession, USERS, append_audit, get_json, put_json};

/// The provider account a Sentinella user is bound to. Once bound, only that subject of
/// that issuer signs in as the user through OpenID Connect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ExternalIdentity {
    pub issuer: String,
    pub subject: String,
}

/// The outcome of [`AuthStore::sign_in_oidc`].
#[derive(Debug, Clone)]
pub enum OidcSignIn {
    /// Signed in.
    Session(NewSession),
    /// Refused (and audited); the reason is a stable code: `unknown_user` (not
    /// provisioned), `unmapped` (no role for the user's claims), `identity_mismatch`
    /// (the name belongs to another subject), `local_user` (a password user, linking off).
    Refused(&'static str),
}

/// Password hash of users created through OpenID Connect: not a PHC string, so no
/// password ever verifies against it.
pub(crate) const NO_PASSWORD: &str = "!oidc";

/// `detail` with one more field.
fn with(detail: &serde_json::Value, key: &str, value: serde_json::Value) -> serde_json::Value {
    let mut detail = detail.clone();
    if let Some(map) = detail.as_object_mut() {
        map.insert(key.to_owned(), value);
    }
    detail
}

impl AuthStore {
    /// Opens a session for a user the provider authenticated. A disabled user is refused
    /// (`AuthError::Disabled`), as is a blocked source; an unknown user is created when
    /// provisioning is on; the user's role follows the claim mapping at every sign-in.
    pub fn sign_in_oidc(
        &self,
        identity: &Identity,
        source: &str,
        now: i64,
    ) -> Result<OidcSignIn, AuthError> {
        let name = identity.username.as_str();
        if let Some(until) = self.refuse_if_blocked(source, name, now)? {
            return Err(AuthError::SourceBlocked { until });
        }
        crate::validate_user_name(name)?;
        let bound = ExternalIdentity {
            issuer: identity.issuer.clone(),
            subject: identity.subject.clone(),
        };
        let via = serde_json::json!({
            "source": source,
            "via": "oidc",
            "issuer": identity.issuer,
            "subject": identity.subject,
            "claims": identity.role_values,
        });
        let txn = self.db.begin_write()?;
        let outcome: Result<UserRecord, &'static str> = {
            let mut users = txn.open_table(USERS)?;
            match get_json::<UserRecord>(&users, name)? {
                None if !identity.auto_provision => Err("unknown_user"),
                None => match identity.role {
                    None => Err("unmapped"),
                    Some(role) => {
                        let record = UserRecord {
                            name: name.to_owned(),
                            role,
                            password_hash: NO_PASSWORD.to_owned(),
                            disabled: false,
                            failed_sign_ins: 0,
                            locked_until: None,
                            language: None,
                            created: now,
                            must_change_password: false,
                            external: Some(bound.clone()),
                        };
                        put_json(&mut users, name, &record)?;
                        append_audit(
                            &txn,
                            now,
                            name,
                            "user_provisioned",
                            Some(name),
                            with(&via, "role", serde_json::json!(role)),
                        )?;
                        Ok(record)
                    }
                },
                Some(record) if record.disabled => {
                    drop(users);
                    append_audit(
                        &txn,
                        now,
                        name,
                        "sign_in_failed",
                        Some(name),
                        with(&via, "reason", serde_json::json!("disabled")),
                    )?;
                    txn.commit()?;
                    return Err(AuthError::Disabled);
                }
                Some(mut record) => {
                    let link = match &record.external {
                        Some(external) if *external == bound => Ok(false),
                        Some(_) => Err("identity_mismatch"),
                        None if identity.link_local_users => Ok(true),
                        None => Err("local_user"),
                    };
                    match (link, identity.role) {
                        (Err(reason), _) => Err(reason),
                        (Ok(_), None) => Err("unmapped"),
                        (Ok(link), Some(role)) => {
                            if link {
                                record.external = Some(bound.clone());
                                append_audit(
                                    &txn,
                                    now,
                                    name,
                                    "user_linked",
                                    Some(name),
                                    via.clone(),
                                )?;
                            }
                            if record.role != role {
                                append_audit(
                                    &txn,
                                    now,
                                    "oidc",
                                    "user_role_changed",
                                    Some(name),
                                    with(
                                        &with(&via, "role", serde_json::json!(role)),
                                        "from",
                                        serde_json::json!(record.role),
                                    ),
                                )?;
                                record.role = role;
                            }
                            put_json(&mut users, name, &record)?;
                            Ok(record)
                        }
                    }
                }
            }
        };
        match outcome {
            Err(reason) => {
                append_audit(
                    &txn,
                    now,
                    name,
                    "sign_in_failed",
                    Some(name),
                    with(&via, "reason", serde_json::json!(reason)),
                )?;
                txn.commit()?;
                Ok(OidcSignIn::Refused(reason))
            }
            Ok(record) => {
                let session =
                    self.open_session(&txn, record.info(), identity.id_token.clone(), now)?;
                append_audit(&txn, now, name, "sign_in", Some(name), via)?;
                txn.commit()?;
                Ok(OidcSignIn::Session(session))
            }
        }
    }
}
