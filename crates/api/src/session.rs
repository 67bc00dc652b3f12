//! Console sessions: `POST /api/v1/session` (sign in), `GET` (who am I), `DELETE` (sign
//! out), `PUT /api/v1/session/language`, `POST /api/v1/session/password`, and OpenID
//! Connect sign-in under `/api/v1/session/oidc` (see `oidc`).

pub(crate) mod oidc;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use auth::{Principal, Via};
use axum::extract::{ConnectInfo, Extension, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::access::{ADMIN_TOKEN_PRINCIPAL, SESSION_COOKIE, blocking, now};
use crate::{ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/session", get(me).post(sign_in).delete(sign_out))
        .route("/api/v1/session/language", put(set_language))
        .route("/api/v1/session/password", post(change_password))
        .route("/api/v1/session/oidc", get(oidc::describe))
        .route("/api/v1/session/oidc/start", get(oidc::start))
        .route("/api/v1/session/oidc/callback", get(oidc::callback))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    user: String,
    password: String,
}

/// `Secure` when the browser reached us over TLS, which, as the API listens in plain HTTP,
/// means through a TLS-terminating proxy that says so.
fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

fn cookie(value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .expect("session ids are hex")
}

/// Reverse proxies whose `X-Forwarded-For` is believed (an `axum::Extension` on the
/// router; absent means none): addresses or networks (`10.0.0.7/32`, `10.1.0.0/16`).
/// From anyone else the header is client-forgeable, so the connection's peer address is
/// the source.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Vec<ipnet::IpNet>);

impl TrustedProxies {
    fn contains(&self, ip: &IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }
}

/// The client's address as seen through trusted proxies: the peer, or, when the peer is
/// a trusted proxy, the rightmost `X-Forwarded-For` entry that is not one (entries left
/// of it were written by the client and prove nothing). `unknown` without connection
/// info (only in tests that build requests by hand).
pub(crate) fn client_address(
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
) -> String {
    let Some(peer) = peer.map(|peer| peer.ip().to_canonical()) else {
        return "unknown".to_owned();
    };
    if !trusted.contains(&peer) {
        return peer.to_string();
    }
    let mut client = peer;
    // Several headers are one list, in order.
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip.to_canonical();
                if !trusted.contains(&client) {
                    break;
                }
            }
            // A malformed hop: stop at the last address we could trust.
            Err(_) => break,
        }
    }
    client.to_string()
}

/// Signs in. The JSON body (the `Json` extractor insists on `Content-Type:
/// application/json`) cannot be sent cross-site without a CORS preflight, which we never
/// grant: that is the login-CSRF defence. A new session id is issued every time.
async fn sign_in(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    trusted: Option<Extension<TrustedProxies>>,
    headers: HeaderMap,
    Json(body): Json<SignIn>,
) -> Result<Response, ApiError> {
    if body.user.len() > 256 || body.password.len() > 4096 {
        return Err(ApiError::SignInFailed);
    }
    let trusted = trusted
        .map(|Extension(trusted)| trusted)
        .unwrap_or_default();
    let source = client_address(
        peer.map(|Extension(ConnectInfo(addr))| addr),
        &headers,
        &trusted,
    );
    let accounts = Arc::clone(&state.accounts);
    let session =
        blocking(move || accounts.sign_in(&body.user, &body.password, &source, now())).await?;
    let max_age = session.expires - now();
    let mut response = Json(json!({
        "user": session.user,
        "csrf": session.csrf,
        "expires": session.expires,
    }))
    .into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie(&session.id, max_age.max(0), over_tls(&headers)),
    );
    Ok(response)
}

async fn me(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let csrf = match &principal.via {
        Via::Session { csrf, .. } => Some(csrf.clone()),
        Via::Token { .. } => None,
    };
    if principal.name == ADMIN_TOKEN_PRINCIPAL {
        return Ok(Json(json!({
            "user": {"name": principal.name, "role": principal.role, "language": null,
                     "must_change_password": false},
            "csrf": csrf,
        })));
    }
    let accounts = Arc::clone(&state.accounts);
    let name = principal.name.clone();
    let user = blocking(move || accounts.user(&name)).await?;
    Ok(Json(json!({"user": user, "csrf": csrf})))
}

/// Signs out. For a session opened through an OpenID Provider that offers RP-initiated
/// logout, the answer's `logout_url` is where the console sends the browser next, to
/// end the provider's session too (else the next "Sign in with…" would go straight
/// through).
async fn sign_out(
    State(state): State<AppState>,
    service: Option<Extension<oidc::OidcSignInService>>,
    headers: HeaderMap,
    Extension(principal): Extension<Principal>,
) -> Result<Response, ApiError> {
    let mut id_token = None;
    if let Via::Session { id, .. } = principal.via {
        let accounts = Arc::clone(&state.accounts);
        id_token = blocking(move || accounts.sign_out(&id, now())).await?;
    }
    let logout_url = match (id_token, service) {
        (Some(id_token), Some(Extension(service))) => {
            oidc::provider_sign_out(service, id_token).await
        }
        _ => None,
    };
    let mut response = Json(json!({"signed_out": true, "logout_url": logout_url})).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie("", 0, over_tls(&headers)));
    Ok(response)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Language {
    language: String,
}

async fn set_language(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Json(body): Json<Language>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let accounts = Arc::clone(&state.accounts);
    let user = blocking(move || accounts.set_language(&principal.name, &body.language)).await?;
    Ok(Json(json!({"user": user})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    current: String,
    new: String,
}

/// Changes the caller's password (proving the current one). All their sessions end,
/// this one included: the console signs in again.
async fn change_password(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Json(body): Json<PasswordChange>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let accounts = Arc::clone(&state.accounts);
    let user = blocking(move || {
        accounts.change_own_password(&principal.name, &body.current, &body.new, now())
    })
    .await?;
    Ok(Json(json!({"user": user})))
}

#[cfg(test)]
mod tests;
