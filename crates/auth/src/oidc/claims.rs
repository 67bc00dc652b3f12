//! From verified claims to a Sentinella identity: which claim is the user name, which
//! claim values grant which role.

use serde_json::{Map, Value};

use super::{OidcError, OidcSettings};
use crate::Role;

/// A claim by name, or, when no claim has that exact name, by dotted path into nested
/// objects (Keycloak puts realm roles in `realm_access.roles`). Exact names come first
/// because claim names may themselves contain dots (URIs).
pub(crate) fn lookup<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(name) {
        return Some(value);
    }
    let mut parts = name.split('.');
    let mut value = claims.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// The first configured username claim holding a non-empty string.
pub(crate) fn username(
    claims: &Map<String, Value>,
    settings: &OidcSettings,
) -> Result<String, OidcError> {
    for claim in &settings.username_claims {
        if let Some(name) = lookup(claims, claim)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            crate::validate_user_name(name).map_err(|_| {
                OidcError::Claims(format!(
                    "claim `{claim}` is not a usable user name (1-64 letters, digits, `.`, `_`, `-`, `@`)"
                ))
            })?;
            return Ok(name.to_owned());
        }
    }
    Err(OidcError::Claims(format!(
        "none of the username claims {:?} is present",
        settings.username_claims
    )))
}

/// Values of the role claim: a string, or an array of strings (other entries ignored).
pub(crate) fn role_values(claims: &Map<String, Value>, settings: &OidcSettings) -> Vec<String> {
    let Some(claim) = &settings.role_claim else {
        return Vec::new();
    };
    match lookup(claims, claim) {
        Some(Value::String(value)) => vec![value.clone()],
        Some(Value::Array(values)) => values
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// The highest role any claim value maps to, else the default role, else `None` (the
/// sign-in is refused).
pub(crate) fn role(values: &[String], settings: &OidcSettings) -> Option<Role> {
    settings
        .role_map
        .iter()
        .filter(|(value, _)| values.iter().any(|v| v == value))
        .map(|(_, role)| *role)
        .max()
        .or(settings.default_role)
}
