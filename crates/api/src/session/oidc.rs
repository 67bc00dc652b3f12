//! OpenID Connect sign-in routes (public by nature: the caller has no session yet):
//!
//! - `GET /api/v1/session/oidc`: whether it is configured, and the provider's name for the
//!   sign-in button;
//! - `GET /api/v1/session/oidc/start`: redirects the browser to the provider, with the
//!   `state` in a short-lived cookie bound to this browser;
//! - `GET /api/v1/session/oidc/callback`: where the provider sends the browser back; on
//!   success the same session and CSRF token as a password sign-in, then `/ui/`.
//!
//! The protocol lives in `auth::oidc`; the network calls go through the server's
//! [`Transport`](auth::oidc::Transport), on blocking threads.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use auth::oidc::{Callback, OidcError, OidcSignIn, RelyingParty, Transport};
use axum::extract::{ConnectInfo, Extension, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{TrustedProxies, client_address, cookie, over_tls};
use crate::access::now;
use crate::{ApiError, AppState};

/// Cookie carrying the `state` of a sign-in in progress. `SameSite=Lax`, unlike the
/// session cookie: the provider's redirect back is a cross-site top-level navigation,
/// on which browsers withhold `Strict` cookies.
const STATE_COOKIE: &str = "sentinella_oidc";
const STATE_COOKIE_PATH: &str = "/api/v1/session/oidc";

/// OpenID Connect sign-in, when configured: an `axum::Extension` the server adds.
#[derive(Clone)]
pub struct OidcSignInService {
    /// The protocol side.
    pub relying_party: Arc<RelyingParty>,
    /// The network (HTTPS, timeouts, size caps).
    pub transport: Arc<dyn Transport>,
}

impl std::fmt::Debug for OidcSignInService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSignInService")
            .field("relying_party", &self.relying_party)
            .finish_non_exhaustive()
    }
}

fn not_configured() -> ApiError {
    ApiError::NotFound("openid connect sign-in is not configured".to_owned())
}

/// `GET /api/v1/session/oidc`.
pub(crate) async fn describe(service: Option<Extension<OidcSignInService>>) -> Response {
    let body = match service {
        Some(Extension(service)) => json!({
            "enabled": true,
            "name": service.relying_party.settings().display_name,
        }),
        None => json!({"enabled": false}),
    };
    axum::Json(body).into_response()
}

fn redirect(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/ui/")),
    );
    response
}

/// Back to the sign-in page with a reason code the console translates.
fn back_with_error(reason: &str) -> Response {
    redirect(&format!("/ui/signin?sso_error={reason}"))
}

fn state_cookie(value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{STATE_COOKIE}={value}; Path={STATE_COOKIE_PATH}; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .expect("state values are base64url")
}

fn read_state_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == STATE_COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty() && value.len() <= 256)
}

async fn off_thread<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, OidcError> + Send + 'static,
) -> Result<T, OidcError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|err| Err(OidcError::Transport(err.to_string())))
}

/// The provider's sign-out address for a session opened with `id_token`, if it offers
/// one; a provider that cannot be reached costs only its own sign-out (logged).
pub(crate) async fn provider_sign_out(
    service: OidcSignInService,
    id_token: String,
) -> Option<String> {
    let url = off_thread(move || {
        service
            .relying_party
            .sign_out_url(service.transport.as_ref(), &id_token, now())
    })
    .await;
    url.unwrap_or_else(|error| {
        tracing::warn!(%error, "openid connect provider sign-out unavailable");
        None
    })
}

/// `GET /api/v1/session/oidc/start`.
pub(crate) async fn start(
    service: Option<Extension<OidcSignInService>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    trusted: Option<Extension<TrustedProxies>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(Extension(service)) = service else {
        return Err(not_configured());
    };
    let trusted = trusted
        .map(|Extension(trusted)| trusted)
        .unwrap_or_default();
    let source = client_address(
        peer.map(|Extension(ConnectInfo(addr))| addr),
        &headers,
        &trusted,
    );
    let begun = off_thread(move || {
        service
            .relying_party
            .begin(service.transport.as_ref(), &source, now())
    })
    .await;
    match begun {
        Ok(begun) => {
            let mut response = redirect(&begun.url);
            response.headers_mut().insert(
                header::SET_COOKIE,
                state_cookie(
                    &begun.state,
                    auth::oidc::PENDING_TTL_SECS,
                    over_tls(&headers),
                ),
            );
            Ok(response)
        }
        Err(error) => {
            tracing::warn!(%error, "openid connect sign-in could not start");
            Ok(back_with_error(error.reason()))
        }
    }
}

/// `GET /api/v1/session/oidc/callback`.
pub(crate) async fn callback(
    State(state): State<AppState>,
    service: Option<Extension<OidcSignInService>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    trusted: Option<Extension<TrustedProxies>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let Some(Extension(service)) = service else {
        return Err(not_configured());
    };
    let trusted = trusted
        .map(|Extension(trusted)| trusted)
        .unwrap_or_default();
    let source = client_address(
        peer.map(|Extension(ConnectInfo(addr))| addr),
        &headers,
        &trusted,
    );
    let secure = over_tls(&headers);
    let callback = Callback {
        state: query.get("state").cloned(),
        code: query.get("code").cloned(),
        error: query.get("error").cloned(),
        issuer: query.get("iss").cloned(),
        state_cookie: read_state_cookie(&headers),
    };
    // The state cookie is spent once a callback presents it; a callback with another
    // state (a forged link) leaves this browser's sign-in in progress alone.
    let presented_own_state = callback.state.is_some() && callback.state == callback.state_cookie;
    let finished = {
        let service = service.clone();
        off_thread(move || {
            service
                .relying_party
                .finish(service.transport.as_ref(), &callback, now())
        })
        .await
    };
    let clear_state = presented_own_state.then(|| state_cookie("", 0, secure));
    let identity = match finished {
        Ok(identity) => identity,
        Err(error) => {
            // A bad state proves nothing about anyone (it is what a forged or replayed
            // callback looks like) and auditing it would let anyone grow the log; every
            // later failure follows a sign-in this server started, and is audited.
            if matches!(error, OidcError::State) {
                tracing::info!(%source, "openid connect callback with an unknown state");
            } else {
                tracing::warn!(%source, %error, "openid connect sign-in failed");
                let accounts = Arc::clone(&state.accounts);
                let detail = json!({
                    "reason": error.reason(),
                    "via": "oidc",
                    "source": source,
                    "error": error.to_string().chars().take(300).collect::<String>(),
                });
                crate::access::blocking(move || {
                    accounts.audit("oidc", "sign_in_failed", None, detail, now())
                })
                .await?;
            }
            let mut response = back_with_error(error.reason());
            if let Some(clear_state) = clear_state {
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, clear_state);
            }
            return Ok(response);
        }
    };
    let accounts = Arc::clone(&state.accounts);
    let signed_in =
        tokio::task::spawn_blocking(move || accounts.sign_in_oidc(&identity, &source, now()))
            .await
            .map_err(|err| ApiError::Internal(err.to_string()))?;
    let mut response = match signed_in {
        Ok(OidcSignIn::Session(session)) => {
            let mut response = redirect("/ui/");
            let max_age = (session.expires - now()).max(0);
            response
                .headers_mut()
                .append(header::SET_COOKIE, cookie(&session.id, max_age, secure));
            response
        }
        Ok(OidcSignIn::Refused(reason)) => back_with_error(reason),
        Err(auth::AuthError::Disabled) => back_with_error("disabled"),
        Err(auth::AuthError::SourceBlocked { .. }) => back_with_error("source_blocked"),
        Err(error) => return Err(ApiError::from(error)),
    };
    if let Some(clear_state) = clear_state {
        response
            .headers_mut()
            .append(header::SET_COOKIE, clear_state);
    }
    Ok(response)
}
