//! OpenID Connect sign-in: the `[auth.oidc]` section and the HTTPS transport the relying
//! party (`auth::oidc`) talks to the provider through (ureq, as the TAXII feed poller).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use auth::oidc::{OidcSettings, RelyingParty, Reply, Transport};
use serde::Deserialize;

/// The path the provider redirects back to, under the console's public URL.
pub const CALLBACK_PATH: &str = "/api/v1/session/oidc/callback";
/// Largest answer read from the provider (discovery, JWK set, token, userinfo).
const MAX_REPLY_BYTES: u64 = 1024 * 1024;

/// `[auth]`: how people sign in besides local passwords.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// OpenID Connect sign-in (Keycloak, SPID/CIE brokers, …); off when absent.
    #[serde(default)]
    pub oidc: Option<OidcConfig>,
}

/// `[auth.oidc]`: one OpenID Provider, authorization code flow with PKCE.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// Shown on the sign-in button: "Sign in with …".
    #[serde(default = "default_display_name")]
    pub display_name: String,
    /// Issuer identifier, e.g. `https://sso.comune.example.it/realms/soc`; its
    /// `/.well-known/openid-configuration` is read at the first sign-in. `https` (plain
    /// `http` only for loopback addresses).
    pub issuer: String,
    /// Client id registered at the provider.
    pub client_id: String,
    /// Client secret (confidential client, `client_secret_basic`). Prefer
    /// `client_secret_file`; neither: a public client (PKCE only).
    #[serde(default)]
    pub client_secret: Option<String>,
    /// File holding the client secret (trailing whitespace ignored).
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// The console's public base URL, e.g. `https://soc.comune.example.it`; the redirect
    /// URI is this plus `/api/v1/session/oidc/callback` (register exactly that).
    #[serde(default)]
    pub public_url: Option<String>,
    /// The redirect URI in full, instead of `public_url`.
    #[serde(default)]
    pub redirect_uri: Option<String>,
    /// Scopes requested (`openid` is always added).
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Claims tried in order for the Sentinella user name.
    #[serde(default = "default_username_claims")]
    pub username_claims: Vec<String>,
    /// Claim whose values map to roles: `groups`, `roles`, `realm_access.roles`…
    #[serde(default)]
    pub role_claim: Option<String>,
    /// Claim value → `admin`, `analyst` or `viewer`; the highest wins.
    #[serde(default)]
    pub role_map: BTreeMap<String, auth::Role>,
    /// Role of users with no mapped value; absent: they are refused.
    #[serde(default)]
    pub default_role: Option<auth::Role>,
    /// Create users on their first sign-in. Off by default: with a provider in front of
    /// SPID/CIE, every citizen can authenticate; only a role mapping decides who gets in.
    #[serde(default)]
    pub auto_provision: bool,
    /// Let existing password users sign in through the provider when the names match
    /// (binding them to the provider's subject). Off by default.
    #[serde(default)]
    pub link_local_users: bool,
    /// `acr_values` requested; when set, the ID token's `acr` must be one of them (SPID
    /// levels: `https://www.spid.gov.it/SpidL2`…).
    #[serde(default)]
    pub acr_values: Vec<String>,
    /// Signing out of a session opened through the provider signs out at the provider
    /// too (RP-initiated logout), when its discovery document has an
    /// `end_session_endpoint`; the provider sends the browser back to `/ui/signin`
    /// (register that as a post-logout redirect URI). On by default.
    #[serde(default = "default_true")]
    pub provider_sign_out: bool,
    /// PEM file of the root certificates to trust for the provider (an internal CA),
    /// instead of the public web roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Timeout of each call to the provider, seconds.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

fn default_display_name() -> String {
    "SSO".to_owned()
}
fn default_scopes() -> Vec<String> {
    ["openid", "profile", "email"].map(str::to_owned).to_vec()
}
fn default_username_claims() -> Vec<String> {
    ["preferred_username", "email"].map(str::to_owned).to_vec()
}
fn default_true() -> bool {
    true
}
fn default_timeout_secs() -> u64 {
    10
}

impl OidcConfig {
    /// Checks what serde cannot, without IO (the secret file is read by [`Self::build`]).
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.client_secret.is_some() && self.client_secret_file.is_some() {
            bail!("auth.oidc: give client_secret or client_secret_file, not both");
        }
        if self.timeout_secs == 0 || self.timeout_secs > 300 {
            bail!("auth.oidc.timeout_secs must be 1-300");
        }
        self.settings(None)?.validate()?;
        Ok(())
    }

    fn redirect_uri(&self) -> anyhow::Result<String> {
        match (&self.redirect_uri, &self.public_url) {
            (Some(uri), None) => Ok(uri.clone()),
            (None, Some(base)) => Ok(format!("{}{CALLBACK_PATH}", base.trim_end_matches('/'))),
            _ => bail!("auth.oidc: give public_url (or redirect_uri), exactly one"),
        }
    }

    fn settings(&self, client_secret: Option<String>) -> anyhow::Result<OidcSettings> {
        Ok(OidcSettings {
            display_name: self.display_name.clone(),
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            client_secret: client_secret.or_else(|| self.client_secret.clone()),
            redirect_uri: self.redirect_uri()?,
            scopes: self.scopes.clone(),
            username_claims: self.username_claims.clone(),
            role_claim: self.role_claim.clone(),
            role_map: self
                .role_map
                .iter()
                .map(|(value, role)| (value.clone(), *role))
                .collect(),
            default_role: self.default_role,
            auto_provision: self.auto_provision,
            provider_sign_out: self.provider_sign_out,
            link_local_users: self.link_local_users,
            acr_values: self.acr_values.clone(),
        })
    }

    /// The sign-in service the API mounts: reads the secret and CA files.
    pub fn build(&self) -> anyhow::Result<api::OidcSignInService> {
        self.validate()?;
        let secret = match &self.client_secret_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .with_context(|| {
                        format!("reading auth.oidc.client_secret_file {}", path.display())
                    })?
                    .trim_end()
                    .to_owned(),
            ),
            None => None,
        };
        let relying_party = RelyingParty::new(self.settings(secret)?)?;
        let transport = UreqTransport::new(self.ca_file.as_deref(), self.timeout_secs)?;
        Ok(api::OidcSignInService {
            relying_party: Arc::new(relying_party),
            transport: Arc::new(transport),
        })
    }
}

/// The provider over HTTPS: no redirects followed, bounded answers, a timeout per call.
pub struct UreqTransport {
    agent: ureq::Agent,
}

impl UreqTransport {
    /// An agent trusting `ca_file`'s roots (else the public web roots).
    pub fn new(ca_file: Option<&std::path::Path>, timeout_secs: u64) -> anyhow::Result<Self> {
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(path) = ca_file {
            let pem = std::fs::read(path)
                .with_context(|| format!("reading auth.oidc.ca_file {}", path.display()))?;
            let certs = ureq::tls::parse_pem(&pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(cert)) => Some(Ok(cert)),
                    Ok(_) => None,
                    Err(err) => Some(Err(err)),
                })
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("parsing auth.oidc.ca_file {}", path.display()))?;
            if certs.is_empty() {
                bail!("auth.oidc.ca_file {} holds no certificate", path.display());
            }
            tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(timeout_secs)))
            .http_status_as_error(false)
            .max_redirects(0)
            .tls_config(tls.build())
            .build()
            .new_agent();
        Ok(UreqTransport { agent })
    }
}

fn read_reply(
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Reply, String> {
    let mut response = response.map_err(|err| err.to_string())?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_REPLY_BYTES)
        .read_to_vec()
        .map_err(|err| err.to_string())?;
    Ok(Reply { status, body })
}

impl Transport for UreqTransport {
    fn get(&self, url: &str, bearer: Option<&str>) -> Result<Reply, String> {
        auth::oidc::secure_url(url)?;
        let mut request = self.agent.get(url).header("Accept", "application/json");
        if let Some(token) = bearer {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        read_reply(request.call())
    }

    fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<Reply, String> {
        use base64::Engine as _;
        auth::oidc::secure_url(url)?;
        let mut request = self.agent.post(url).header("Accept", "application/json");
        if let Some((id, secret)) = basic {
            let credentials =
                base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
            request = request.header("Authorization", format!("Basic {credentials}"));
        }
        read_reply(request.send_form(form.iter().copied()))
    }
}

/// Writes the audit summary of sign-in blocks that have ended (their refusals are
/// counted, not audited one by one) once a minute, until `stop`.
pub fn spawn_throttle_summaries(
    accounts: Arc<auth::AuthStore>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let wait = tokio::time::sleep(Duration::from_secs(60));
            tokio::select! {
                _ = wait => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
            let accounts = Arc::clone(&accounts);
            let settled = tokio::task::spawn_blocking(move || {
                accounts.settle_ended_blocks(crate::unix_now())
            })
            .await;
            match settled {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => tracing::warn!(%error, "sign-in block summaries not written"),
                Err(error) => tracing::warn!(%error, "sign-in block summary task failed"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> anyhow::Result<OidcConfig> {
        let text = format!(
            "issuer = \"https://sso.example.it/realms/soc\"\nclient_id = \"sentinella\"\n{extra}"
        );
        let config: OidcConfig = toml::from_str(&text)?;
        config.validate()?;
        Ok(config)
    }

    #[test]
    fn oidc_config_is_validated() {
        let ok = config(
            "public_url = \"https://soc.example.it/\"\nrole_claim = \"groups\"\n[role_map]\nsoc = \"analyst\"\n",
        )
        .unwrap();
        let settings = ok.settings(None).unwrap();
        assert_eq!(
            settings.redirect_uri,
            "https://soc.example.it/api/v1/session/oidc/callback"
        );
        assert_eq!(settings.role_map, [("soc".to_owned(), auth::Role::Analyst)]);
        assert_eq!(settings.username_claims, ["preferred_username", "email"]);
        assert!(!settings.auto_provision);
        for bad in [
            "",                                                            // no redirect
            "public_url = \"https://a\"\nredirect_uri = \"https://a/cb\"", // both
            "public_url = \"https://a\"\n[role_map]\nsoc = \"analyst\"",   // map without claim
            "public_url = \"https://a\"\n[role_map]\nsoc = \"root\"",      // unknown role
            "public_url = \"https://a\"\nclient_secret = \"x\"\nclient_secret_file = \"/x\"",
            "public_url = \"https://a\"\nunknown = 1",
        ] {
            assert!(config(bad).is_err(), "{bad}");
        }
        let plain: OidcConfig = toml::from_str(
            "issuer = \"http://sso.example.it\"\nclient_id = \"x\"\npublic_url = \"https://a\"",
        )
        .unwrap();
        assert!(plain.validate().is_err());
    }
}
