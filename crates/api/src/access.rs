//! Who may call what: authentication (session cookie + CSRF, personal API token, the admin
//! token), the role every route needs, and the security headers on every answer.
//!
//! The rule is deny by default: every route needs an authenticated principal except the
//! few in [`is_public`]. Reads (GET/HEAD) need `viewer`, anything else `analyst`, unless
//! [`ROUTE_ROLES`] says otherwise; so a route added tomorrow is protected today.

use std::sync::Arc;

use auth::{Principal, Role, Via};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::{ApiError, AppState};

/// Cookie holding the session id.
pub(crate) const SESSION_COOKIE: &str = "sentinella_session";
/// Header carrying the session's CSRF token on state-changing requests.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";
/// Name of the principal authenticated by the data dir's admin token.
pub(crate) const ADMIN_TOKEN_PRINCIPAL: &str = "admin-token";

/// Exceptions to "GET/HEAD = viewer, the rest = analyst", by path prefix (the prefix itself
/// or below it) and method (`None`: any). First match wins.
const ROUTE_ROLES: &[(Option<Method>, &str, Role)] = &[
    // Account administration and the audit trail.
    (None, "/api/v1/users", Role::Admin),
    (None, "/api/v1/audit", Role::Admin),
    // Who the intelligence is shared with (and how they authenticate).
    (None, "/api/v1/intel/partners", Role::Admin),
    // Searching with a JSON body is still a read.
    (Some(Method::POST), "/api/v1/search", Role::Viewer),
    // Everyone manages their own session (sign-out, language, password) and tokens;
    // the handlers restrict what is "own".
    (None, "/api/v1/session", Role::Viewer),
    (None, "/api/v1/tokens", Role::Viewer),
    (None, "/api/v1/searches", Role::Viewer),
];

/// State-changing routes whose successful calls the middleware writes to the audit log
/// (account and triage routes are audited by the account store itself, with details).
const AUDITED_PREFIXES: &[&str] = &[
    "/api/v1/rules",
    "/api/v1/hunt",
    "/api/v1/intel/import",
    "/api/v1/intel/withdraw",
];

fn audited(method: &Method, path: &str) -> bool {
    !is_read(method)
        && AUDITED_PREFIXES.iter().any(|prefix| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
}

/// The role `method path` needs.
pub(crate) fn required_role(method: &Method, path: &str) -> Role {
    for (rule_method, prefix, role) in ROUTE_ROLES {
        let method_matches = rule_method.as_ref().is_none_or(|m| m == method);
        let path_matches = path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        if method_matches && path_matches {
            return *role;
        }
    }
    if is_read(method) {
        Role::Viewer
    } else {
        Role::Analyst
    }
}

fn is_read(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Routes anyone may call: health probes, the sign-in itself, and the console's static
/// files (they hold no data; the data comes from the API, which checks).
///
/// OpenID Connect sign-in is public by nature, like `POST /api/v1/session`: its caller
/// has no session yet. `GET /api/v1/session/oidc` says only whether it is configured and
/// the provider's name; `…/start` redirects to the provider; `…/callback` proves nothing
/// by itself: it signs in only with a `state` this server issued to this browser (cookie),
/// a code the provider accepts with our PKCE verifier, and an ID token signed by the
/// provider for us with this sign-in's nonce (`auth::oidc`).
pub(crate) fn is_public(method: &Method, path: &str) -> bool {
    match *method {
        Method::GET | Method::HEAD => {
            path == "/health"
                || path == "/"
                || path == "/ui"
                || path.starts_with("/ui/")
                || OIDC_PUBLIC_ROUTES.contains(&path)
        }
        Method::POST => path == "/api/v1/session",
        _ => false,
    }
}

/// The OpenID Connect sign-in routes (GET), public: see [`is_public`].
pub(crate) const OIDC_PUBLIC_ROUTES: &[&str] = &[
    "/api/v1/session/oidc",
    "/api/v1/session/oidc/start",
    "/api/v1/session/oidc/callback",
];

/// Routes that authenticate their callers themselves, with credentials that are not
/// Sentinella principals, checked (and refused with 401) by their handlers: TAXII 2.1
/// partners send HTTP Basic credentials of their partner account (`taxii`), firewalls
/// fetch blocklists with a blocklist token (`threat_intel`).
pub(crate) const SELF_AUTHENTICATED_PREFIXES: &[&str] = &["/taxii2/", "/api/v1/intel/blocklist/"];

fn authenticates_itself(path: &str) -> bool {
    SELF_AUTHENTICATED_PREFIXES
        .iter()
        .any(|prefix| path.starts_with(prefix))
}

/// What a principal signed in with a one-time password may still do.
fn allowed_before_password_change(path: &str) -> bool {
    path == "/api/v1/session" || path == "/api/v1/session/password"
}

pub(crate) fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// The session id from the `Cookie` header, if any.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty() && value.len() <= 128)
}

/// Resolves the caller: a bearer token (admin token, then personal API tokens) wins over a
/// cookie, since browsers never add `Authorization` on their own.
async fn principal(state: &AppState, headers: &HeaderMap) -> Result<Option<Principal>, ApiError> {
    if let Some(token) = ::ingest::auth::token_from_headers(headers) {
        if state.auth.check(&token) {
            return Ok(Some(Principal {
                name: ADMIN_TOKEN_PRINCIPAL.to_owned(),
                role: Role::Admin,
                via: Via::Token { name: None },
                must_change_password: false,
            }));
        }
        let accounts = Arc::clone(&state.accounts);
        return blocking(move || accounts.check_token(&token, now())).await;
    }
    if let Some(id) = session_cookie(headers) {
        let accounts = Arc::clone(&state.accounts);
        return blocking(move || accounts.session(&id, now())).await;
    }
    Ok(None)
}

/// Runs account-store work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, auth::AuthError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| ApiError::Internal(err.to_string()))?
        .map_err(ApiError::from)
}

/// The middleware: authenticate, check CSRF and role, then add security headers to
/// whatever the route answers. Unknown routes need authentication too, so an anonymous
/// caller learns nothing about which routes exist.
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut response = if is_public(&method, &path) || authenticates_itself(&path) {
        next.run(request).await
    } else {
        match authorize(&state, &method, &path, request.headers()).await {
            Ok(principal) => {
                let actor = audited(&method, &path).then(|| principal.name.clone());
                request.extensions_mut().insert(principal);
                let response = next.run(request).await;
                if let Some(actor) = actor {
                    let status = response.status().as_u16();
                    let accounts = Arc::clone(&state.accounts);
                    let target = path.clone();
                    let action = format!("{} {}", method, path);
                    let result = blocking(move || {
                        accounts.audit(
                            &actor,
                            "api_call",
                            Some(&target),
                            serde_json::json!({"request": action, "status": status}),
                            now(),
                        )
                    })
                    .await;
                    if let Err(error) = result {
                        tracing::error!(%error, "audit entry not written");
                    }
                }
                response
            }
            Err(error) => error.into_response(),
        }
    };
    add_security_headers(response.headers_mut(), &path);
    response
}

async fn authorize(
    state: &AppState,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Result<Principal, ApiError> {
    let principal = principal(state, headers)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    if let Via::Session { csrf, .. } = &principal.via
        && !is_read(method)
    {
        let presented = headers
            .get(CSRF_HEADER)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        if !auth::constant_time_eq(presented, csrf) {
            return Err(ApiError::Denied(
                "csrf",
                "missing or wrong X-CSRF-Token header".to_owned(),
            ));
        }
    }
    if principal.must_change_password && !allowed_before_password_change(path) {
        return Err(ApiError::Denied(
            "password_change_required",
            "change your one-time password first".to_owned(),
        ));
    }
    let needed = required_role(method, path);
    if principal.role < needed {
        return Err(ApiError::Denied(
            "forbidden",
            format!("this needs the {needed} role"),
        ));
    }
    Ok(principal)
}

/// The console displays what attackers wrote; the policy forbids inline and foreign script
/// so that an escaping bug elsewhere still cannot run code.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

fn add_security_headers(headers: &mut HeaderMap, path: &str) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if path.starts_with("/api/") && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_by_method_with_exceptions() {
        let get = Method::GET;
        let post = Method::POST;
        assert_eq!(required_role(&get, "/api/v1/search"), Role::Viewer);
        assert_eq!(required_role(&post, "/api/v1/search"), Role::Viewer);
        assert_eq!(required_role(&post, "/api/v1/ingest"), Role::Analyst);
        assert_eq!(
            required_role(&post, "/api/v1/alerts/x/status"),
            Role::Analyst
        );
        // A route nobody listed yet: protected by the method rule.
        assert_eq!(
            required_role(&Method::DELETE, "/api/v1/rules/x"),
            Role::Analyst
        );
        assert_eq!(required_role(&get, "/api/v1/users"), Role::Admin);
        assert_eq!(required_role(&get, "/api/v1/users/carla"), Role::Admin);
        assert_eq!(required_role(&get, "/api/v1/usersx"), Role::Viewer);
        assert_eq!(required_role(&get, "/api/v1/audit"), Role::Admin);
        assert_eq!(
            required_role(&Method::DELETE, "/api/v1/tokens/ab"),
            Role::Viewer
        );
        assert!(is_public(&post, "/api/v1/session"));
        assert!(!is_public(&Method::DELETE, "/api/v1/session"));
        assert!(!is_public(&get, "/api/v1/session"));
        assert!(is_public(&get, "/api/v1/session/oidc/callback"));
        assert!(is_public(&get, "/api/v1/session/oidc/start"));
        assert!(!is_public(&post, "/api/v1/session/oidc/callback"));
        assert!(!is_public(&get, "/api/v1/session/oidc/callback/x"));
        assert!(!is_public(&get, "/api/v1/session/language"));
        assert!(is_public(&get, "/ui/app.js"));
        assert!(!is_public(&get, "/uix"));
        assert!(authenticates_itself("/taxii2/"));
        assert!(!authenticates_itself("/taxii2"));
        assert!(!authenticates_itself("/api/v1/taxii2/"));
    }

    #[test]
    fn session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; sentinella_session=abc; b=2"),
        );
        assert_eq!(session_cookie(&headers).as_deref(), Some("abc"));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("sentinella_session="),
        );
        assert_eq!(session_cookie(&headers), None);
    }
}
