//! OpenID Connect sign-in, the relying party's side: the authorization code flow with
//! PKCE (RFC 7636, `S256`), `state` and `nonce`, against any OpenID Provider (Keycloak,
//! the brokers in front of SPID and CIE, …).
//!
//! This module does no network IO itself: the provider's discovery document, its JWK set,
//! the token exchange and the userinfo call go through a [`Transport`] the server
//! implements. What lives here is the protocol: URLs, pending sign-ins (one use each,
//! ten minutes), ID token verification ([`token`]), and claim mapping to a user name and
//! a role ([`OidcSettings::role_map`]).
//!
//! ```text
//! let rp = RelyingParty::new(settings);
//! let start = rp.begin(&transport, now)?;          // redirect the browser to start.url,
//!                                                   // remember start.state in a cookie
//! let identity = rp.finish(&transport, &callback, now)?; // then AuthStore::sign_in_oidc
//! ```

mod accounts;
mod claims;
pub mod token;

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::Digest as _;

use crate::Role;
pub use accounts::OidcSignIn;
pub(crate) use accounts::{ExternalIdentity, NO_PASSWORD};
pub use token::{Expected, KeySet};

/// How long a started sign-in may take to come back, seconds.
pub const PENDING_TTL_SECS: i64 = 10 * 60;
/// Most sign-ins pending at once (the start route is public: this bounds its memory).
pub const MAX_PENDING: usize = 10_000;
/// Most sign-ins pending from one source address, so one client cannot use up
/// [`MAX_PENDING`] and keep everyone else from signing in.
pub const MAX_PENDING_PER_SOURCE: usize = 20;
/// The discovery document is refetched after this long, seconds.
pub const METADATA_TTL_SECS: i64 = 24 * 3600;
/// The JWK set is refetched for an unknown `kid` at most this often, seconds, so tokens
/// naming made-up keys cannot make us hammer the provider.
pub const JWKS_REFETCH_MIN_SECS: i64 = 30;
/// The callback route's path, which the configured `redirect_uri` ends with.
const CALLBACK_PATH: &str = "/api/v1/session/oidc/callback";

/// Everything that can go wrong in an OpenID Connect sign-in. [`OidcError::reason`] gives
/// a short stable code for the audit log and the console.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The configuration is unusable.
    #[error("openid connect configuration: {0}")]
    Config(String),
    /// The provider could not be reached.
    #[error("openid provider unreachable: {0}")]
    Transport(String),
    /// The provider answered something we cannot use (discovery, JWK set, token response).
    #[error("openid provider answer: {0}")]
    Provider(String),
    /// The provider reported an error on the redirect (e.g. `access_denied`).
    #[error("openid provider refused: {error}")]
    Refused {
        /// The `error` parameter.
        error: String,
    },
    /// The callback's `state` is unknown, expired, already used, or not this browser's.
    #[error("sign-in state is unknown, expired, already used or from another browser")]
    State,
    /// The ID token failed verification.
    #[error("ID token: {0}")]
    Token(String),
    /// The claims do not give a usable user name.
    #[error("{0}")]
    Claims(String),
    /// Too many sign-ins pending.
    #[error("too many sign-ins in progress, retry later")]
    Busy,
}

impl OidcError {
    /// A short stable code: `config`, `unreachable`, `provider`, `refused`, `state`,
    /// `id_token`, `claims`, `busy`.
    pub fn reason(&self) -> &'static str {
        match self {
            OidcError::Config(_) => "config",
            OidcError::Transport(_) => "unreachable",
            OidcError::Provider(_) => "provider",
            OidcError::Refused { .. } => "refused",
            OidcError::State => "state",
            OidcError::Token(_) => "id_token",
            OidcError::Claims(_) => "claims",
            OidcError::Busy => "busy",
        }
    }
}

/// A validated OpenID Connect configuration (the server builds it from `[auth.oidc]`).
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// Shown on the sign-in button: "Sign in with {display_name}".
    pub display_name: String,
    /// The provider's issuer identifier, e.g. `https://sso.example.it/realms/soc`.
    pub issuer: String,
    /// Our client id at the provider.
    pub client_id: String,
    /// Our client secret (`client_secret_basic`); `None` for a public client (PKCE only).
    pub client_secret: Option<String>,
    /// Where the provider sends the browser back: `…/api/v1/session/oidc/callback`.
    pub redirect_uri: String,
    /// Scopes requested; `openid` is always included.
    pub scopes: Vec<String>,
    /// Claims tried in order for the user name (default `preferred_username`, `email`).
    pub username_claims: Vec<String>,
    /// Claim whose values map to roles (`groups`, `roles`, `realm_access.roles`…).
    pub role_claim: Option<String>,
    /// Claim value → role; the highest mapped role wins.
    pub role_map: Vec<(String, Role)>,
    /// Role for users none of whose values is mapped; `None` refuses them.
    pub default_role: Option<Role>,
    /// Create unknown users on their first sign-in.
    pub auto_provision: bool,
    /// Let a local user (created with a password) sign in through the provider when the
    /// names match, binding the account to the provider's subject. Off by default: a
    /// provider whose users choose their own `preferred_username` could otherwise claim
    /// `admin`.
    pub link_local_users: bool,
    /// Authentication context classes requested (`acr_values`, e.g. SPID levels
    /// `https://www.spid.gov.it/SpidL2`); when set, the ID token's `acr` must be one.
    pub acr_values: Vec<String>,
    /// Signing out of a session opened through the provider also signs out at the
    /// provider, when its discovery document has an `end_session_endpoint`.
    pub provider_sign_out: bool,
}

impl OidcSettings {
    /// Checks what the server's config parser cannot: URLs, claims, names.
    pub fn validate(&self) -> Result<(), OidcError> {
        secure_url(&self.issuer).map_err(OidcError::Config)?;
        let redirect = url::Url::parse(&self.redirect_uri)
            .map_err(|err| OidcError::Config(format!("redirect_uri: {err}")))?;
        if !matches!(redirect.scheme(), "https" | "http") || redirect.fragment().is_some() {
            return Err(OidcError::Config(
                "redirect_uri must be an http(s) URL without fragment".to_owned(),
            ));
        }
        if self.client_id.is_empty() {
            return Err(OidcError::Config("client_id is empty".to_owned()));
        }
        if self.username_claims.is_empty() {
            return Err(OidcError::Config("username_claims is empty".to_owned()));
        }
        if !self.role_map.is_empty() && self.role_claim.is_none() {
            return Err(OidcError::Config(
                "role_map needs role_claim (the claim whose values it maps)".to_owned(),
            ));
        }
        if self.display_name.trim().is_empty() || self.display_name.chars().count() > 64 {
            return Err(OidcError::Config(
                "display_name is 1-64 characters".to_owned(),
            ));
        }
        Ok(())
    }
}

/// Whether `text` is a URL we may talk to: `https`, or `http` to a loopback host only
/// (tests and local providers; credentials never cross a network in the clear).
pub fn secure_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|err| format!("`{text}` is not a URL: {err}"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        _ => Err(format!(
            "`{text}` must use https (http only for loopback addresses)"
        )),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The provider's discovery document (OpenID Connect Discovery 1.0 §3), the parts we use.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderMetadata {
    /// Must equal the configured issuer exactly (§4.3).
    pub issuer: String,
    /// Where the browser is sent.
    pub authorization_endpoint: String,
    /// Where codes are exchanged.
    pub token_endpoint: String,
    /// The signing keys.
    pub jwks_uri: String,
    /// Extra claims, when the ID token lacks ours.
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    /// PKCE methods; when listed, `S256` must be among them.
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0), when offered. One we
    /// may not send an ID token to (plain `http` off loopback) is dropped: sign-out then
    /// stays local, sign-in is unaffected.
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
}

impl ProviderMetadata {
    /// Parses and checks a discovery document for `issuer`.
    pub fn parse(json: &[u8], issuer: &str) -> Result<ProviderMetadata, OidcError> {
        let mut metadata: ProviderMetadata = serde_json::from_slice(json)
            .map_err(|err| OidcError::Provider(format!("discovery document: {err}")))?;
        if metadata
            .end_session_endpoint
            .as_deref()
            .is_some_and(|endpoint| secure_url(endpoint).is_err())
        {
            metadata.end_session_endpoint = None;
        }
        if metadata.issuer != issuer {
            return Err(OidcError::Provider(format!(
                "discovery document names issuer `{}`, expected `{issuer}`",
                metadata.issuer
            )));
        }
        for endpoint in [
            Some(&metadata.authorization_endpoint),
            Some(&metadata.token_endpoint),
            Some(&metadata.jwks_uri),
            metadata.userinfo_endpoint.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            secure_url(endpoint).map_err(OidcError::Provider)?;
        }
        if let Some(methods) = &metadata.code_challenge_methods_supported
            && !methods.iter().any(|method| method == "S256")
        {
            return Err(OidcError::Provider(
                "the provider does not support PKCE S256".to_owned(),
            ));
        }
        Ok(metadata)
    }
}

/// The discovery document's address for an issuer (Discovery §4.1).
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// An HTTP answer: status and body.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// Body (the transport caps its size).
    pub body: Vec<u8>,
}

/// The network, as the relying party needs it. Blocking; implemented by the server
/// (HTTPS, timeouts, body caps) and by tests.
pub trait Transport: Send + Sync {
    /// `GET url` (JSON expected).
    fn get(&self, url: &str, bearer: Option<&str>) -> Result<Reply, String>;
    /// `POST url` with an `application/x-www-form-urlencoded` body, with HTTP Basic
    /// credentials when given.
    fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<Reply, String>;
}

/// A started sign-in: send the browser to `url`; keep `state` in a cookie bound to this
/// browser (the callback must present both).
#[derive(Debug, Clone)]
pub struct Start {
    /// The provider's authorization URL with all parameters.
    pub url: String,
    /// The `state` value (256 bits, base64url).
    pub state: String,
}

/// What the provider's redirect brought back, plus the browser's state cookie.
#[derive(Debug, Clone, Default)]
pub struct Callback {
    /// `state` query parameter.
    pub state: Option<String>,
    /// `code` query parameter.
    pub code: Option<String>,
    /// `error` query parameter, when the provider refused.
    pub error: Option<String>,
    /// `iss` query parameter (RFC 9207): when present it must be our issuer, which
    /// defeats mix-up attacks between several providers.
    pub issuer: Option<String>,
    /// The state cookie set by [`RelyingParty::begin`]'s caller.
    pub state_cookie: Option<String>,
}

/// Who the provider says signed in, mapped to Sentinella's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Provider issuer.
    pub issuer: String,
    /// Provider subject (stable user id at the provider).
    pub subject: String,
    /// Sentinella user name (from the username claims).
    pub username: String,
    /// Role from the role claim mapping or the default; `None`: refuse.
    pub role: Option<Role>,
    /// The role claim's values (for the audit log).
    pub role_values: Vec<String>,
    /// Create the user if unknown.
    pub auto_provision: bool,
    /// Bind an existing password user on first sign-in.
    pub link_local_users: bool,
    /// The ID token the claims came from (kept with the session as the provider
    /// sign-out's `id_token_hint`); `None` when the claims did not come from a sign-in.
    pub id_token: Option<String>,
}

#[derive(Debug, Clone)]
struct Pending {
    nonce: String,
    verifier: String,
    created: i64,
    source: String,
}

#[derive(Debug, Default)]
struct ProviderCache {
    metadata: Option<(ProviderMetadata, i64)>,
    keys: Option<(KeySet, i64)>,
}

/// The relying party: settings, cached provider metadata and keys, pending sign-ins.
#[derive(Debug)]
pub struct RelyingParty {
    settings: OidcSettings,
    cache: Mutex<ProviderCache>,
    pending: Mutex<HashMap<String, Pending>>,
}

fn random_b64(n_bytes: usize) -> Result<String, OidcError> {
    let mut bytes = vec![0u8; n_bytes];
    getrandom::fill(&mut bytes)
        .map_err(|err| OidcError::Config(format!("no randomness: {err}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// RFC 7636 §4.2: `BASE64URL(SHA256(verifier))`.
pub fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

fn json_reply(reply: Result<Reply, String>, what: &str) -> Result<Vec<u8>, OidcError> {
    let reply = reply.map_err(OidcError::Transport)?;
    if reply.status != 200 {
        return Err(OidcError::Provider(format!(
            "{what} answered HTTP {}",
            reply.status
        )));
    }
    Ok(reply.body)
}

impl RelyingParty {
    /// A relying party for validated `settings`.
    pub fn new(settings: OidcSettings) -> Result<RelyingParty, OidcError> {
        settings.validate()?;
        Ok(RelyingParty {
            settings,
            cache: Mutex::new(ProviderCache::default()),
            pending: Mutex::new(HashMap::new()),
        })
    }

    /// The settings.
    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, ProviderCache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The discovery document, fetched on first use and refreshed daily.
    pub fn metadata(
        &self,
        transport: &dyn Transport,
        now: i64,
    ) -> Result<ProviderMetadata, OidcError> {
        if let Some((metadata, fetched)) = &self.cache().metadata
            && fetched + METADATA_TTL_SECS > now
        {
            return Ok(metadata.clone());
        }
        let url = discovery_url(&self.settings.issuer);
        let body = json_reply(transport.get(&url, None), "discovery document")?;
        let metadata = ProviderMetadata::parse(&body, &self.settings.issuer)?;
        self.cache().metadata = Some((metadata.clone(), now));
        Ok(metadata)
    }

    fn fetch_keys(
        &self,
        transport: &dyn Transport,
        metadata: &ProviderMetadata,
        now: i64,
    ) -> Result<KeySet, OidcError> {
        let body = json_reply(transport.get(&metadata.jwks_uri, None), "JWK set")?;
        let keys = KeySet::parse(&body)?;
        self.cache().keys = Some((keys.clone(), now));
        Ok(keys)
    }

    /// Starts a sign-in from `source` (the client's address): a fresh `state`, `nonce` and
    /// PKCE verifier, remembered for [`PENDING_TTL_SECS`].
    pub fn begin(
        &self,
        transport: &dyn Transport,
        source: &str,
        now: i64,
    ) -> Result<Start, OidcError> {
        let metadata = self.metadata(transport, now)?;
        let state = random_b64(32)?;
        let nonce = random_b64(32)?;
        let verifier = random_b64(32)?;
        {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.retain(|_, p| p.created + PENDING_TTL_SECS > now);
            let from_source = pending.values().filter(|p| p.source == source).count();
            if pending.len() >= MAX_PENDING || from_source >= MAX_PENDING_PER_SOURCE {
                return Err(OidcError::Busy);
            }
            pending.insert(
                crate::secret::digest(&state),
                Pending {
                    nonce: nonce.clone(),
                    verifier: verifier.clone(),
                    created: now,
                    source: source.to_owned(),
                },
            );
        }
        let mut url = url::Url::parse(&metadata.authorization_endpoint)
            .map_err(|err| OidcError::Provider(format!("authorization_endpoint: {err}")))?;
        let mut scopes = vec!["openid".to_owned()];
        scopes.extend(
            self.settings
                .scopes
                .iter()
                .filter(|scope| *scope != "openid")
                .cloned(),
        );
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &self.settings.client_id)
                .append_pair("redirect_uri", &self.settings.redirect_uri)
                .append_pair("scope", &scopes.join(" "))
                .append_pair("state", &state)
                .append_pair("nonce", &nonce)
                .append_pair("code_challenge", &pkce_challenge(&verifier))
                .append_pair("code_challenge_method", "S256");
            if !self.settings.acr_values.is_empty() {
                query.append_pair("acr_values", &self.settings.acr_values.join(" "));
            }
        }
        Ok(Start {
            url: url.into(),
            state,
        })
    }

    /// Finishes a sign-in: checks `state` against the cookie and the pending sign-ins
    /// (consuming it: a replayed callback fails), exchanges the code (with the PKCE
    /// verifier), verifies the ID token, fetches userinfo when the ID token lacks the
    /// claims we map, and maps the claims.
    pub fn finish(
        &self,
        transport: &dyn Transport,
        callback: &Callback,
        now: i64,
    ) -> Result<Identity, OidcError> {
        let state = callback.state.as_deref().unwrap_or("");
        let cookie = callback.state_cookie.as_deref().unwrap_or("");
        if state.is_empty() || state.len() > 256 || !crate::constant_time_eq(state, cookie) {
            return Err(OidcError::State);
        }
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&crate::secret::digest(state))
            .filter(|p| p.created + PENDING_TTL_SECS > now)
            .ok_or(OidcError::State)?;
        if callback
            .issuer
            .as_deref()
            .is_some_and(|issuer| issuer != self.settings.issuer)
        {
            return Err(OidcError::Provider(
                "the callback names another issuer".to_owned(),
            ));
        }
        if let Some(error) = &callback.error {
            return Err(OidcError::Refused {
                error: error.chars().take(64).collect(),
            });
        }
        let code = callback
            .code
            .as_deref()
            .filter(|code| !code.is_empty() && code.len() <= 4096)
            .ok_or_else(|| OidcError::Provider("the callback carries no code".to_owned()))?;
        let metadata = self.metadata(transport, now)?;
        let (id_token, access_token) = self.exchange(transport, &metadata, code, &pending)?;
        let mut claims = self.verify(transport, &metadata, &id_token, &pending.nonce, now)?;
        if !self.settings.acr_values.is_empty() {
            let acr = claims.get("acr").and_then(Value::as_str).unwrap_or("");
            if !self.settings.acr_values.iter().any(|wanted| wanted == acr) {
                return Err(OidcError::Token(format!(
                    "authentication level `{acr}` is not one of {:?}",
                    self.settings.acr_values
                )));
            }
        }
        if self.needs_userinfo(&claims)
            && let (Some(endpoint), Some(access_token)) =
                (&metadata.userinfo_endpoint, access_token.as_deref())
        {
            self.merge_userinfo(transport, endpoint, access_token, &mut claims)?;
        }
        let mut identity = self.identity(&claims)?;
        identity.id_token = Some(id_token);
        Ok(identity)
    }

    /// Maps verified claims to an identity (public for tests and other flows).
    pub fn identity(&self, claims: &Map<String, Value>) -> Result<Identity, OidcError> {
        let settings = &self.settings;
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let username = claims::username(claims, settings)?;
        let role_values = claims::role_values(claims, settings);
        Ok(Identity {
            issuer: settings.issuer.clone(),
            subject,
            username,
            role: claims::role(&role_values, settings),
            role_values,
            auto_provision: settings.auto_provision,
            link_local_users: settings.link_local_users,
            id_token: None,
        })
    }

    fn needs_userinfo(&self, claims: &Map<String, Value>) -> bool {
        let has = |name: &str| claims::lookup(claims, name).is_some();
        !self.settings.username_claims.iter().any(|claim| has(claim))
            || self
                .settings
                .role_claim
                .as_deref()
                .is_some_and(|claim| !has(claim))
    }

    /// Adds the userinfo claims the ID token lacks (OIDC Core §5.3.4: the userinfo `sub`
    /// must be the ID token's, or the answer is refused).
    fn merge_userinfo(
        &self,
        transport: &dyn Transport,
        endpoint: &str,
        access_token: &str,
        claims: &mut Map<String, Value>,
    ) -> Result<(), OidcError> {
        let body = json_reply(transport.get(endpoint, Some(access_token)), "userinfo")?;
        let info: Map<String, Value> = serde_json::from_slice(&body)
            .map_err(|err| OidcError::Provider(format!("userinfo is not a JSON object: {err}")))?;
        if info.get("sub") != claims.get("sub") {
            return Err(OidcError::Provider(
                "userinfo `sub` differs from the ID token's".to_owned(),
            ));
        }
        for (name, value) in info {
            claims.entry(name).or_insert(value);
        }
        Ok(())
    }

    /// The token request (OIDC Core §3.1.3.1); returns the ID token and access token.
    /// Where the provider sends the browser after signing out: the console's sign-in
    /// page, next to the callback (`…/api/v1/session/oidc/callback` → `…/ui/signin`).
    pub fn post_logout_redirect_uri(&self) -> String {
        let callback = &self.settings.redirect_uri;
        let base = callback
            .split_once('?')
            .map_or(callback.as_str(), |(path, _)| path);
        match base.strip_suffix(CALLBACK_PATH) {
            Some(prefix) => format!("{prefix}/ui/signin"),
            None => url::Url::parse(base)
                .map(|url| format!("{}/ui/signin", url.origin().ascii_serialization()))
                .unwrap_or_else(|_| "/ui/signin".to_owned()),
        }
    }

    /// The provider's sign-out address for a session opened with `id_token`
    /// (RP-Initiated Logout 1.0 §2: `id_token_hint`, `client_id`,
    /// `post_logout_redirect_uri`); `None` when [`OidcSettings::provider_sign_out`] is off
    /// or the provider has no `end_session_endpoint`.
    pub fn sign_out_url(
        &self,
        transport: &dyn Transport,
        id_token: &str,
        now: i64,
    ) -> Result<Option<String>, OidcError> {
        if !self.settings.provider_sign_out {
            return Ok(None);
        }
        let metadata = self.metadata(transport, now)?;
        let Some(endpoint) = metadata.end_session_endpoint else {
            return Ok(None);
        };
        let mut url = url::Url::parse(&endpoint)
            .map_err(|err| OidcError::Provider(format!("end_session_endpoint: {err}")))?;
        url.query_pairs_mut()
            .append_pair("id_token_hint", id_token)
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("post_logout_redirect_uri", &self.post_logout_redirect_uri());
        Ok(Some(url.into()))
    }

    fn exchange(
        &self,
        transport: &dyn Transport,
        metadata: &ProviderMetadata,
        code: &str,
        pending: &Pending,
    ) -> Result<(String, Option<String>), OidcError> {
        let settings = &self.settings;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", settings.redirect_uri.as_str()),
            ("code_verifier", pending.verifier.as_str()),
        ];
        // RFC 6749 §2.3.1: client_secret_basic, with id and secret form-encoded first.
        let encoded = settings
            .client_secret
            .as_deref()
            .map(|secret| (form_encode(&settings.client_id), form_encode(secret)));
        let basic = encoded
            .as_ref()
            .map(|(id, secret)| (id.as_str(), secret.as_str()));
        if basic.is_none() {
            form.push(("client_id", settings.client_id.as_str()));
        }
        let reply = transport
            .post_form(&metadata.token_endpoint, &form, basic)
            .map_err(OidcError::Transport)?;
        let body: Value = serde_json::from_slice(&reply.body).map_err(|_| {
            OidcError::Provider(format!(
                "token endpoint answered HTTP {} without JSON",
                reply.status
            ))
        })?;
        if reply.status != 200 {
            let error = body
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            return Err(OidcError::Provider(format!(
                "token endpoint refused the code: {}",
                error.chars().take(64).collect::<String>()
            )));
        }
        let id_token = body
            .get("id_token")
            .and_then(Value::as_str)
            .ok_or_else(|| OidcError::Provider("token response has no id_token".to_owned()))?;
        let access_token = body
            .get("access_token")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok((id_token.to_owned(), access_token))
    }

    /// Verifies with the cached keys; on an unknown key id, refetches the JWK set once
    /// (the provider may have rotated keys), at most every [`JWKS_REFETCH_MIN_SECS`].
    fn verify(
        &self,
        transport: &dyn Transport,
        metadata: &ProviderMetadata,
        id_token: &str,
        nonce: &str,
        now: i64,
    ) -> Result<Map<String, Value>, OidcError> {
        let expected = Expected {
            issuer: &self.settings.issuer,
            client_id: &self.settings.client_id,
            nonce,
            now,
        };
        let cached = self.cache().keys.clone();
        let (keys, fetched) = match cached {
            Some(cached) => cached,
            None => (self.fetch_keys(transport, metadata, now)?, now),
        };
        match token::verify(id_token, &keys, &expected) {
            Ok(claims) => Ok(claims),
            Err(token::Refusal::UnknownKey(_)) if fetched + JWKS_REFETCH_MIN_SECS <= now => {
                let keys = self.fetch_keys(transport, metadata, now)?;
                token::verify(id_token, &keys, &expected).map_err(|refusal| match refusal {
                    token::Refusal::UnknownKey(kid) => {
                        OidcError::Token(format!("no provider key {kid:?}"))
                    }
                    token::Refusal::Invalid(reason) => OidcError::Token(reason),
                })
            }
            Err(token::Refusal::UnknownKey(kid)) => {
                Err(OidcError::Token(format!("no provider key {kid:?}")))
            }
            Err(token::Refusal::Invalid(reason)) => Err(OidcError::Token(reason)),
        }
    }
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests;
