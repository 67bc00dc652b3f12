//! The relying party against an in-process provider that signs real ES256 and RS256
//! tokens (ring-generated EC keys, a committed RSA test key), then the account side.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::KeyPair as _;
use serde_json::{Value, json};

use super::*;
use crate::{AuthError, AuthPolicy, AuthStore};

const NOW: i64 = 1_790_000_000;
const ISSUER: &str = "https://sso.example.it/realms/soc";
const CLIENT: &str = "sentinella";
const SECRET: &str = "s3cret with spaces&symbols";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A signing key with its JWK.
struct SigningKey {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
}

fn es256_key(kid: &str) -> SigningKey {
    let rng = ring::rand::SystemRandom::new();
    let alg = &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
    let pair = ring::signature::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap();
    let public = pair.public_key().as_ref();
    SigningKey {
        kid: kid.to_owned(),
        alg: Algorithm::ES256,
        encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
        jwk: json!({"kty": "EC", "crv": "P-256", "use": "sig", "kid": kid,
                    "x": b64(&public[1..33]), "y": b64(&public[33..65])}),
    }
}

fn rs256_key() -> SigningKey {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/oidc");
    let der = std::fs::read(root.join("rs256-test-key.der")).unwrap();
    let jwk: Value =
        serde_json::from_slice(&std::fs::read(root.join("rs256-test-key.jwk.json")).unwrap())
            .unwrap();
    SigningKey {
        kid: jwk["kid"].as_str().unwrap().to_owned(),
        alg: Algorithm::RS256,
        encoding: EncodingKey::from_rsa_der(&der),
        jwk,
    }
}

fn sign(key: &SigningKey, claims: &Value) -> String {
    let mut header = Header::new(key.alg);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

type Mutation = Box<dyn Fn(&mut Value) + Send + Sync>;

/// An OpenID Provider in a struct: discovery, JWK set, token endpoint (codes are single
/// use and PKCE-checked), userinfo.
struct FakeProvider {
    key: Mutex<SigningKey>,
    /// Extra keys published (e.g. an encryption key a real Keycloak lists).
    extra_jwks: Vec<Value>,
    /// code → (nonce, challenge, claims)
    codes: Mutex<HashMap<String, (String, String, Value)>>,
    /// Applied to the ID token claims before signing.
    mutate: Mutex<Option<Mutation>>,
    userinfo: Mutex<Option<Value>>,
    jwks_fetches: Mutex<usize>,
    issuer_in_discovery: String,
}

impl FakeProvider {
    fn new(key: SigningKey) -> FakeProvider {
        FakeProvider {
            key: Mutex::new(key),
            extra_jwks: vec![
                json!({"kty": "RSA", "use": "enc", "alg": "RSA-OAEP", "kid": "enc", "n": "AQAB", "e": "AQAB"}),
                json!({"kty": "EC", "crv": "P-521", "kid": "exotic", "x": "AA", "y": "AA"}),
                json!({"kty": "weird"}),
            ],
            codes: Mutex::new(HashMap::new()),
            mutate: Mutex::new(None),
            userinfo: Mutex::new(None),
            jwks_fetches: Mutex::new(0),
            issuer_in_discovery: ISSUER.to_owned(),
        }
    }

    /// What the provider does when the user signs in: reads nonce and challenge from the
    /// authorization URL and issues a code.
    fn authorize(&self, start: &Start, claims: Value) -> String {
        let url = url::Url::parse(&start.url).unwrap();
        let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(query["response_type"], "code");
        assert_eq!(query["client_id"], CLIENT);
        assert_eq!(query["code_challenge_method"], "S256");
        assert_eq!(query["state"], start.state);
        assert!(query["scope"].split(' ').any(|scope| scope == "openid"));
        let code = format!("code-{}", self.codes.lock().unwrap().len());
        self.codes.lock().unwrap().insert(
            code.clone(),
            (
                query["nonce"].clone(),
                query["code_challenge"].clone(),
                claims,
            ),
        );
        code
    }
}

fn reply(status: u16, body: Value) -> Result<Reply, String> {
    Ok(Reply {
        status,
        body: serde_json::to_vec(&body).unwrap(),
    })
}

impl Transport for FakeProvider {
    fn get(&self, url: &str, bearer: Option<&str>) -> Result<Reply, String> {
        match url {
            "https://sso.example.it/realms/soc/.well-known/openid-configuration" => reply(
                200,
                json!({
                    "issuer": self.issuer_in_discovery,
                    "authorization_endpoint": "https://sso.example.it/auth",
                    "token_endpoint": "https://sso.example.it/token",
                    "jwks_uri": "https://sso.example.it/certs",
                    "userinfo_endpoint": "https://sso.example.it/userinfo",
                    "code_challenge_methods_supported": ["plain", "S256"],
                    "end_session_endpoint": "https://sso.example.it/logout?ui=it",
                }),
            ),
            "https://sso.example.it/certs" => {
                *self.jwks_fetches.lock().unwrap() += 1;
                let mut keys = vec![self.key.lock().unwrap().jwk.clone()];
                keys.extend(self.extra_jwks.iter().cloned());
                reply(200, json!({"keys": keys}))
            }
            "https://sso.example.it/userinfo" => {
                assert_eq!(bearer, Some("access-token"));
                reply(200, self.userinfo.lock().unwrap().clone().unwrap())
            }
            _ => reply(404, json!({})),
        }
    }

    fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<Reply, String> {
        assert_eq!(url, "https://sso.example.it/token");
        assert_eq!(basic, Some((CLIENT, form_encode(SECRET).as_str())));
        let form: HashMap<&str, &str> = form.iter().copied().collect();
        assert_eq!(form["grant_type"], "authorization_code");
        let Some((nonce, challenge, claims)) = self.codes.lock().unwrap().remove(form["code"])
        else {
            return reply(400, json!({"error": "invalid_grant"}));
        };
        if pkce_challenge(form["code_verifier"]) != challenge {
            return reply(400, json!({"error": "invalid_grant"}));
        }
        let mut claims = claims;
        let base =
            json!({"iss": ISSUER, "aud": CLIENT, "exp": NOW + 300, "iat": NOW, "nonce": nonce});
        for (name, value) in base.as_object().unwrap() {
            claims
                .as_object_mut()
                .unwrap()
                .entry(name.clone())
                .or_insert(value.clone());
        }
        if let Some(mutate) = &*self.mutate.lock().unwrap() {
            mutate(&mut claims);
        }
        let id_token = sign(&self.key.lock().unwrap(), &claims);
        reply(
            200,
            json!({"id_token": id_token, "access_token": "access-token", "token_type": "Bearer"}),
        )
    }
}

fn settings() -> OidcSettings {
    OidcSettings {
        display_name: "Keycloak".to_owned(),
        issuer: ISSUER.to_owned(),
        client_id: CLIENT.to_owned(),
        client_secret: Some(SECRET.to_owned()),
        redirect_uri: "https://soc.example.it/api/v1/session/oidc/callback".to_owned(),
        scopes: vec![
            "openid".to_owned(),
            "profile".to_owned(),
            "email".to_owned(),
        ],
        username_claims: vec!["preferred_username".to_owned(), "email".to_owned()],
        role_claim: Some("groups".to_owned()),
        role_map: vec![
            ("soc-admins".to_owned(), Role::Admin),
            ("soc-analysts".to_owned(), Role::Analyst),
            ("soc-viewers".to_owned(), Role::Viewer),
        ],
        default_role: None,
        auto_provision: true,
        link_local_users: false,
        acr_values: Vec::new(),
        provider_sign_out: true,
    }
}

fn user_claims() -> Value {
    json!({"sub": "f:1234", "preferred_username": "carla", "groups": ["staff", "soc-analysts"]})
}

fn sign_in(
    rp: &RelyingParty,
    provider: &FakeProvider,
    claims: Value,
) -> Result<Identity, OidcError> {
    let start = rp.begin(provider, "192.0.2.1", NOW).unwrap();
    let code = provider.authorize(&start, claims);
    rp.finish(
        provider,
        &Callback {
            state: Some(start.state.clone()),
            code: Some(code),
            error: None,
            issuer: None,
            state_cookie: Some(start.state),
        },
        NOW + 5,
    )
}

fn token_error(result: Result<Identity, OidcError>) -> String {
    match result {
        Err(OidcError::Token(reason)) => reason,
        other => panic!("expected an ID token refusal, got {other:?}"),
    }
}

#[test]
fn es256_and_rs256_sign_ins_map_the_role() {
    for key in [es256_key("ec-1"), rs256_key()] {
        let provider = FakeProvider::new(key);
        let rp = RelyingParty::new(settings()).unwrap();
        let identity = sign_in(&rp, &provider, user_claims()).unwrap();
        assert_eq!(identity.username, "carla");
        assert_eq!(identity.subject, "f:1234");
        assert_eq!(identity.role, Some(Role::Analyst));
        assert_eq!(identity.role_values, ["staff", "soc-analysts"]);
    }
}

#[test]
fn state_must_match_the_cookie_and_is_single_use() {
    let provider = FakeProvider::new(es256_key("ec-1"));
    let rp = RelyingParty::new(settings()).unwrap();
    let start = rp.begin(&provider, "192.0.2.1", NOW).unwrap();
    let code = provider.authorize(&start, user_claims());
    let callback = |state: &str, cookie: Option<&str>| Callback {
        state: Some(state.to_owned()),
        code: Some(code.clone()),
        error: None,
        issuer: None,
        state_cookie: cookie.map(str::to_owned),
    };
    // Another browser (no cookie, or its own) cannot complete this sign-in.
    for cookie in [None, Some("other-state")] {
        assert!(matches!(
            rp.finish(&provider, &callback(&start.state, cookie), NOW + 1),
            Err(OidcError::State)
        ));
    }
    // A state we never issued, even with a matching cookie.
    assert!(matches!(
        rp.finish(&provider, &callback("forged", Some("forged")), NOW + 1),
        Err(OidcError::State)
    ));
    rp.finish(
        &provider,
        &callback(&start.state, Some(&start.state)),
        NOW + 1,
    )
    .unwrap();
    // The same callback again (a replayed code): the state is spent.
    assert!(matches!(
        rp.finish(
            &provider,
            &callback(&start.state, Some(&start.state)),
            NOW + 2
        ),
        Err(OidcError::State)
    ));
    // And a sign-in left pending too long expires.
    let late = rp.begin(&provider, "192.0.2.1", NOW).unwrap();
    let late_callback = Callback {
        state: Some(late.state.clone()),
        code: Some("x".to_owned()),
        error: None,
        issuer: None,
        state_cookie: Some(late.state),
    };
    assert!(matches!(
        rp.finish(&provider, &late_callback, NOW + PENDING_TTL_SECS),
        Err(OidcError::State)
    ));
}

#[test]
fn a_replayed_code_is_refused_by_the_provider() {
    let provider = FakeProvider::new(es256_key("ec-1"));
    let rp = RelyingParty::new(settings()).unwrap();
    let first = rp.begin(&provider, "192.0.2.1", NOW).unwrap();
    let code = provider.authorize(&first, user_claims());
    let finish = |state: String| {
        rp.finish(
            &provider,
            &Callback {
                state: Some(state.clone()),
                code: Some(code.clone()),
                error: None,
                issuer: None,
                state_cookie: Some(state),
            },
            NOW + 1,
        )
    };
    finish(first.state).unwrap();
    // A fresh state of the attacker's own, with the victim's spent code.
    let second = rp.begin(&provider, "192.0.2.1", NOW).unwrap();
    assert!(matches!(finish(second.state), Err(OidcError::Provider(_))));
}

#[test]
fn provider_errors_are_reported() {
    let provider = FakeProvider::new(es256_key("ec-1"));
    let rp = RelyingParty::new(settings()).unwrap();
    let start = rp.begin(&provider, "192.0.2.1", NOW).unwrap();
    let result = rp.finish(
        &provider,
        &Callback {
            state: Some(start.state.clone()),
            code: None,
            error: Some("access_denied".to_owned()),
            issuer: None,
            state_cookie: Some(start.state),
        },
        NOW,
    );
    assert!(matches!(result, Err(OidcError::Refused { error }) if error == "access_denied"));
}

#[test]
fn tampered_expired_misaddressed_or_replayed_tokens_are_refused() {
    type Case = (&'static str, fn(&mut Value));
    let cases: &[Case] = &[
        ("expired", |c| c["exp"] = json!(NOW - 120)),
        ("issued in the future", |c| c["iat"] = json!(NOW + 3600)),
        ("issued too long ago", |c| c["iat"] = json!(NOW - 3600)),
        ("not valid yet", |c| c["nbf"] = json!(NOW + 3600)),
        ("wrong audience", |c| c["aud"] = json!("another-client")),
        ("several audiences, no azp", |c| {
            c["aud"] = json!([CLIENT, "another-client"])
        }),
        ("azp of another client", |c| {
            c["azp"] = json!("another-client")
        }),
        ("wrong issuer", |c| c["iss"] = json!("https://evil.example")),
        ("nonce of another sign-in", |c| {
            c["nonce"] = json!("replayed")
        }),
        ("no nonce", |c| {
            c.as_object_mut().unwrap().remove("nonce");
        }),
        ("no exp", |c| {
            c.as_object_mut().unwrap().remove("exp");
        }),
        ("empty sub", |c| c["sub"] = json!("")),
    ];
    for (what, mutate) in cases {
        let provider = FakeProvider::new(es256_key("ec-1"));
        *provider.mutate.lock().unwrap() = Some(Box::new(*mutate));
        let rp = RelyingParty::new(settings()).unwrap();
        let reason = token_error(sign_in(&rp, &provider, user_claims()));
        assert!(!reason.is_empty(), "{what}");
    }
    // Leeway: a token that expired 30 s ago is still fine (clock skew).
    let provider = FakeProvider::new(es256_key("ec-1"));
    *provider.mutate.lock().unwrap() = Some(Box::new(|c| c["exp"] = json!(NOW - 30)));
    let rp = RelyingParty::new(settings()).unwrap();
    sign_in(&rp, &provider, user_claims()).unwrap();
    // Several audiences with our azp are fine.
    *provider.mutate.lock().unwrap() = Some(Box::new(|c| {
        c["aud"] = json!([CLIENT, "account"]);
        c["azp"] = json!(CLIENT);
    }));
    sign_in(&rp, &provider, user_claims()).unwrap();
}

/// Verifies one hand-made token against the fake provider's keys.
fn verify_raw(token: &str, keys: &KeySet) -> Result<Map<String, Value>, String> {
    let expected = Expected {
        issuer: ISSUER,
        client_id: CLIENT,
        nonce: "n-1",
        now: NOW,
    };
    token::verify(token, keys, &expected).map_err(|refusal| format!("{refusal:?}"))
}

#[test]
fn signatures_and_algorithms_are_checked() {
    let key = es256_key("ec-1");
    let keys = KeySet::parse(&serde_json::to_vec(&json!({"keys": [key.jwk]})).unwrap()).unwrap();
    let claims = json!({"iss": ISSUER, "aud": CLIENT, "sub": "u", "exp": NOW + 60, "iat": NOW, "nonce": "n-1"});
    let good = sign(&key, &claims);
    verify_raw(&good, &keys).unwrap();
    // A payload changed after signing.
    let parts: Vec<&str> = good.split('.').collect();
    let mut forged_claims = claims.clone();
    forged_claims["sub"] = json!("admin");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(&serde_json::to_vec(&forged_claims).unwrap()),
        parts[2]
    );
    assert!(
        verify_raw(&forged, &keys)
            .unwrap_err()
            .contains("InvalidSignature")
    );
    // Signed by a key the provider does not publish (same kid).
    let impostor = es256_key("ec-1");
    assert!(verify_raw(&sign(&impostor, &claims), &keys).is_err());
    // `alg: none`, and HS256 keyed with anything: refused before any key is looked at.
    let none_header = b64(br#"{"alg":"none","kid":"ec-1"}"#);
    let payload = b64(&serde_json::to_vec(&claims).unwrap());
    assert!(verify_raw(&format!("{none_header}.{payload}."), &keys).is_err());
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert!(verify_raw(&hs, &keys).unwrap_err().contains("not accepted"));
    // An EC key cannot verify an RS256 header (algorithm confusion).
    let mut rs_header = Header::new(Algorithm::RS256);
    rs_header.kid = Some("ec-1".to_owned());
    let rs = jsonwebtoken::encode(&rs_header, &claims, &rs256_key().encoding).unwrap();
    assert!(verify_raw(&rs, &keys).unwrap_err().contains("UnknownKey"));
    // Garbage.
    for junk in [
        "",
        "a.b",
        "a.b.c",
        "....",
        &"x".repeat(token::MAX_TOKEN_BYTES + 1),
    ] {
        assert!(verify_raw(junk, &keys).is_err());
    }
}

#[test]
fn key_rotation_refetches_the_jwk_set_but_not_too_often() {
    let provider = FakeProvider::new(es256_key("old"));
    let rp = RelyingParty::new(settings()).unwrap();
    sign_in(&rp, &provider, user_claims()).unwrap();
    assert_eq!(*provider.jwks_fetches.lock().unwrap(), 1);
    *provider.key.lock().unwrap() = es256_key("new");
    // Within the refetch interval an unknown kid is refused without asking again…
    let start = rp.begin(&provider, "192.0.2.1", NOW).unwrap();
    let code = provider.authorize(&start, user_claims());
    let early = rp.finish(
        &provider,
        &Callback {
            state: Some(start.state.clone()),
            code: Some(code),
            error: None,
            issuer: None,
            state_cookie: Some(start.state),
        },
        NOW + 10,
    );
    assert!(token_error(early).contains("no provider key"));
    assert_eq!(*provider.jwks_fetches.lock().unwrap(), 1);
    // …after it, the new key is fetched and used.
    let start = rp.begin(&provider, "192.0.2.1", NOW + 40).unwrap();
    let code = provider.authorize(&start, user_claims());
    rp.finish(
        &provider,
        &Callback {
            state: Some(start.state.clone()),
            code: Some(code),
            error: None,
            issuer: None,
            state_cookie: Some(start.state),
        },
        NOW + 40,
    )
    .unwrap();
    assert_eq!(*provider.jwks_fetches.lock().unwrap(), 2);
}

#[test]
fn claims_map_to_names_and_roles() {
    let rp = RelyingParty::new(settings()).unwrap();
    let claims = |value: Value| value.as_object().unwrap().clone();
    // Highest mapped role wins; unmapped values are ignored.
    let identity = rp
        .identity(&claims(json!({"sub": "1", "preferred_username": "vera",
                                "groups": ["soc-viewers", "soc-admins", "x"]})))
        .unwrap();
    assert_eq!(identity.role, Some(Role::Admin));
    // Fallback to email; no mapped group and no default role: no role.
    let identity = rp
        .identity(&claims(
            json!({"sub": "1", "email": "vera@comune.example.it", "groups": "staff"}),
        ))
        .unwrap();
    assert_eq!(identity.username, "vera@comune.example.it");
    assert_eq!(identity.role, None);
    // A default role catches the unmapped.
    let mut with_default = settings();
    with_default.default_role = Some(Role::Viewer);
    let rp_default = RelyingParty::new(with_default).unwrap();
    let identity = rp_default
        .identity(&claims(json!({"sub": "1", "preferred_username": "vera"})))
        .unwrap();
    assert_eq!(identity.role, Some(Role::Viewer));
    // Keycloak realm roles: a dotted path into nested claims; SPID: the fiscal number.
    let mut keycloak = settings();
    keycloak.role_claim = Some("realm_access.roles".to_owned());
    keycloak.username_claims = vec!["fiscal_number".to_owned()];
    let rp_keycloak = RelyingParty::new(keycloak).unwrap();
    let identity = rp_keycloak
        .identity(&claims(
            json!({"sub": "1", "fiscal_number": "TINIT-RSSMRA80A01H501U",
                                "realm_access": {"roles": ["soc-admins"]}}),
        ))
        .unwrap();
    assert_eq!(identity.username, "TINIT-RSSMRA80A01H501U");
    assert_eq!(identity.role, Some(Role::Admin));
    // Names the account store would refuse, and missing names.
    for bad in [
        json!({"sub": "1", "preferred_username": "../admin"}),
        json!({"sub": "1"}),
    ] {
        assert!(matches!(
            rp.identity(&claims(bad)),
            Err(OidcError::Claims(_))
        ));
    }
}

#[test]
fn userinfo_fills_in_missing_claims_for_the_same_subject_only() {
    let provider = FakeProvider::new(es256_key("ec-1"));
    let rp = RelyingParty::new(settings()).unwrap();
    *provider.userinfo.lock().unwrap() =
        Some(json!({"sub": "f:1234", "preferred_username": "carla", "groups": ["soc-admins"]}));
    let identity = sign_in(&rp, &provider, json!({"sub": "f:1234"})).unwrap();
    assert_eq!(identity.username, "carla");
    assert_eq!(identity.role, Some(Role::Admin));
    *provider.userinfo.lock().unwrap() =
        Some(json!({"sub": "someone-else", "preferred_username": "carla"}));
    assert!(matches!(
        sign_in(&rp, &provider, json!({"sub": "f:1234"})),
        Err(OidcError::Provider(_))
    ));
}

#[test]
fn acr_values_are_requested_and_enforced() {
    let mut spid = settings();
    spid.acr_values = vec!["https://www.spid.gov.it/SpidL2".to_owned()];
    let provider = FakeProvider::new(es256_key("ec-1"));
    let rp = RelyingParty::new(spid).unwrap();
    let start = rp.begin(&provider, "192.0.2.1", NOW).unwrap();
    assert!(
        start
            .url
            .contains("acr_values=https%3A%2F%2Fwww.spid.gov.it%2FSpidL2")
    );
    let mut claims = user_claims();
    claims["acr"] = json!("https://www.spid.gov.it/SpidL1");
    assert!(token_error(sign_in(&rp, &provider, claims.clone())).contains("SpidL1"));
    claims["acr"] = json!("https://www.spid.gov.it/SpidL2");
    sign_in(&rp, &provider, claims).unwrap();
}

#[test]
fn discovery_and_configuration_are_checked() {
    let mut provider = FakeProvider::new(es256_key("ec-1"));
    provider.issuer_in_discovery = "https://sso.example.it/realms/other".to_owned();
    let rp = RelyingParty::new(settings()).unwrap();
    assert!(matches!(
        rp.begin(&provider, "192.0.2.1", NOW),
        Err(OidcError::Provider(_))
    ));
    let metadata = |endpoint: &str| {
        json!({"issuer": ISSUER, "authorization_endpoint": endpoint,
               "token_endpoint": "https://sso.example.it/token", "jwks_uri": "https://sso.example.it/certs"})
        .to_string()
    };
    assert!(
        ProviderMetadata::parse(metadata("http://sso.example.it/auth").as_bytes(), ISSUER).is_err()
    );
    assert!(
        ProviderMetadata::parse(metadata("http://127.0.0.1:9/auth").as_bytes(), ISSUER).is_ok()
    );
    assert!(ProviderMetadata::parse(b"{", ISSUER).is_err());
    // An end_session_endpoint we may not send an ID token to is dropped, not fatal.
    let with_logout = |endpoint: &str| {
        let mut document: Value =
            serde_json::from_str(&metadata("https://sso.example.it/auth")).unwrap();
        document["end_session_endpoint"] = json!(endpoint);
        ProviderMetadata::parse(document.to_string().as_bytes(), ISSUER)
            .unwrap()
            .end_session_endpoint
    };
    assert_eq!(with_logout("http://sso.example.it/logout"), None);
    assert_eq!(with_logout("javascript:alert(1)"), None);
    assert_eq!(
        with_logout("https://sso.example.it/logout").as_deref(),
        Some("https://sso.example.it/logout")
    );
    assert!(secure_url("http://[::1]:8080/").is_ok());
    assert!(secure_url("http://localhost/").is_ok());
    assert!(secure_url("http://10.0.0.1/").is_err());
    assert!(secure_url("ftp://sso.example.it/").is_err());
    let mut bad = settings();
    bad.issuer = "http://sso.example.it".to_owned();
    assert!(RelyingParty::new(bad).is_err());
    let mut bad = settings();
    bad.role_claim = None;
    assert!(RelyingParty::new(bad).is_err());
    assert_eq!(
        discovery_url("https://sso.example.it/realms/soc/"),
        "https://sso.example.it/realms/soc/.well-known/openid-configuration"
    );
    // RFC 7636 appendix B.
    assert_eq!(
        pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
}

#[test]
fn pending_sign_ins_are_bounded_per_source_and_overall() {
    let provider = FakeProvider::new(es256_key("ec-1"));
    let rp = RelyingParty::new(settings()).unwrap();
    for _ in 0..MAX_PENDING_PER_SOURCE {
        rp.begin(&provider, "192.0.2.1", NOW).unwrap();
    }
    assert!(matches!(
        rp.begin(&provider, "192.0.2.1", NOW),
        Err(OidcError::Busy)
    ));
    // Others still sign in, up to the overall bound.
    for i in 0..(MAX_PENDING - MAX_PENDING_PER_SOURCE) {
        rp.begin(&provider, &format!("10.0.{}.{}", i / 256, i % 256), NOW)
            .unwrap();
    }
    assert!(matches!(
        rp.begin(&provider, "198.51.100.1", NOW),
        Err(OidcError::Busy)
    ));
    // Expired ones make room.
    rp.begin(&provider, "192.0.2.1", NOW + PENDING_TTL_SECS)
        .unwrap();
}

// The account side.

fn identity(name: &str, subject: &str, role: Option<Role>) -> Identity {
    Identity {
        issuer: ISSUER.to_owned(),
        subject: subject.to_owned(),
        username: name.to_owned(),
        role,
        role_values: vec!["soc-analysts".to_owned()],
        auto_provision: true,
        link_local_users: false,
        id_token: None,
    }
}

fn audit_actions(store: &AuthStore) -> Vec<(String, Value)> {
    let mut log = store.audit_log(None, 1000).unwrap();
    log.reverse();
    log.into_iter()
        .map(|entry| (entry.action, entry.detail))
        .collect()
}

#[test]
fn signing_out_of_an_oidc_session_signs_out_at_the_provider() {
    let provider = FakeProvider::new(es256_key("ec-1"));
    let rp = RelyingParty::new(settings()).unwrap();
    let identity = sign_in(&rp, &provider, user_claims()).unwrap();
    let id_token = identity.id_token.clone().unwrap();
    assert_eq!(id_token.split('.').count(), 3);
    let dir = tempfile::tempdir().unwrap();
    let store = AuthStore::open_in(dir.path()).unwrap();
    let OidcSignIn::Session(session) = store.sign_in_oidc(&identity, "192.0.2.1", NOW).unwrap()
    else {
        panic!("refused")
    };
    // Signing out hands back the session's ID token, once.
    assert_eq!(
        store.sign_out(&session.id, NOW + 1).unwrap(),
        Some(id_token.clone())
    );
    assert_eq!(store.sign_out(&session.id, NOW + 2).unwrap(), None);
    let url = rp
        .sign_out_url(&provider, &id_token, NOW + 2)
        .unwrap()
        .unwrap();
    let url = url::Url::parse(&url).unwrap();
    assert_eq!(url.path(), "/logout");
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["ui"], "it");
    assert_eq!(query["id_token_hint"], id_token);
    assert_eq!(query["client_id"], CLIENT);
    assert_eq!(
        query["post_logout_redirect_uri"],
        "https://soc.example.it/ui/signin"
    );
    // Switched off in the configuration: Sentinella's session only.
    let off = RelyingParty::new(OidcSettings {
        provider_sign_out: false,
        ..settings()
    })
    .unwrap();
    assert_eq!(off.sign_out_url(&provider, &id_token, NOW).unwrap(), None);
    // A redirect URI behind a path prefix keeps the prefix.
    let prefixed = RelyingParty::new(OidcSettings {
        redirect_uri: "https://gw.example.it/soc/api/v1/session/oidc/callback".to_owned(),
        ..settings()
    })
    .unwrap();
    assert_eq!(
        prefixed.post_logout_redirect_uri(),
        "https://gw.example.it/soc/ui/signin"
    );
    // Password sessions carry no ID token.
    store
        .add_user("dario", Role::Viewer, "dario password 2026", "admin", NOW)
        .unwrap();
    let password = store
        .sign_in("dario", "dario password 2026", "192.0.2.1", NOW)
        .unwrap();
    assert_eq!(store.sign_out(&password.id, NOW + 1).unwrap(), None);
}

#[test]
fn provisioning_role_sync_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let store = AuthStore::open_in(dir.path()).unwrap();
    let carla = identity("carla", "f:1", Some(Role::Analyst));
    let OidcSignIn::Session(session) = store.sign_in_oidc(&carla, "192.0.2.1", NOW).unwrap() else {
        panic!("refused")
    };
    assert_eq!(session.user.role, Role::Analyst);
    // Shown to admins as bound to the provider, without a password.
    let listed = store.user("carla").unwrap();
    assert!(!listed.password);
    assert_eq!(listed.oidc_issuer.as_deref(), Some(ISSUER));
    let principal = store.session(&session.id, NOW + 1).unwrap().unwrap();
    assert_eq!(principal.role, Role::Analyst);
    // No password works for a provisioned user.
    assert!(store.sign_in("carla", "!oidc", "192.0.2.1", NOW).is_err());
    // Promoted at the provider: promoted here at the next sign-in.
    let promoted = identity("carla", "f:1", Some(Role::Admin));
    assert!(matches!(
        store.sign_in_oidc(&promoted, "192.0.2.1", NOW + 2).unwrap(),
        OidcSignIn::Session(s) if s.user.role == Role::Admin
    ));
    // Another subject with the same name: refused.
    let impostor = identity("carla", "f:2", Some(Role::Admin));
    assert!(matches!(
        store.sign_in_oidc(&impostor, "192.0.2.9", NOW + 3).unwrap(),
        OidcSignIn::Refused("identity_mismatch")
    ));
    // Lost every mapped group: refused.
    assert!(matches!(
        store
            .sign_in_oidc(&identity("carla", "f:1", None), "192.0.2.1", NOW + 4)
            .unwrap(),
        OidcSignIn::Refused("unmapped")
    ));
    // Disabled here: refused whatever the provider says.
    store.set_disabled("carla", true, "admin", NOW + 5).unwrap();
    assert!(matches!(
        store.sign_in_oidc(&promoted, "192.0.2.1", NOW + 6),
        Err(AuthError::Disabled)
    ));
    // Unknown user without provisioning.
    let mut stranger = identity("dario", "f:3", Some(Role::Viewer));
    stranger.auto_provision = false;
    assert!(matches!(
        store.sign_in_oidc(&stranger, "192.0.2.1", NOW + 7).unwrap(),
        OidcSignIn::Refused("unknown_user")
    ));
    assert!(store.user("dario").is_err());
    let log = audit_actions(&store);
    let actions: Vec<&str> = log.iter().map(|(action, _)| action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "user_provisioned",
            "sign_in",
            "sign_in_failed",
            "user_role_changed",
            "sign_in",
            "sign_in_failed",
            "sign_in_failed",
            "user_disabled",
            "sign_in_failed",
            "sign_in_failed",
        ]
    );
    assert_eq!(log[1].1["via"], "oidc");
    assert_eq!(log[1].1["subject"], "f:1");
    assert_eq!(log[2].1["reason"], "bad_password");
    assert_eq!(log[5].1["reason"], "identity_mismatch");
    assert_eq!(log[6].1["reason"], "unmapped");
    assert_eq!(log[8].1["reason"], "disabled");
    assert_eq!(log[9].1["reason"], "unknown_user");
}

#[test]
fn local_users_are_linked_only_when_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let store = AuthStore::open(&dir.path().join("auth.redb"), AuthPolicy::recommended()).unwrap();
    store
        .add_user("vera", Role::Viewer, "correct horse battery", "admin", NOW)
        .unwrap();
    let local = store.user("vera").unwrap();
    assert!(local.password && local.oidc_issuer.is_none());
    let vera = identity("vera", "f:9", Some(Role::Analyst));
    assert!(matches!(
        store.sign_in_oidc(&vera, "192.0.2.1", NOW).unwrap(),
        OidcSignIn::Refused("local_user")
    ));
    let mut linking = vera.clone();
    linking.link_local_users = true;
    // A disabled local user is not let in by linking either.
    store.set_disabled("vera", true, "admin", NOW).unwrap();
    assert!(matches!(
        store.sign_in_oidc(&linking, "192.0.2.1", NOW),
        Err(AuthError::Disabled)
    ));
    store.set_disabled("vera", false, "admin", NOW).unwrap();
    assert!(matches!(
        store.sign_in_oidc(&linking, "192.0.2.1", NOW + 1).unwrap(),
        OidcSignIn::Session(s) if s.user.role == Role::Analyst
    ));
    // Bound now: the same subject signs in even with linking off; the password still works.
    assert!(matches!(
        store.sign_in_oidc(&vera, "192.0.2.1", NOW + 2).unwrap(),
        OidcSignIn::Session(_)
    ));
    store
        .sign_in("vera", "correct horse battery", "192.0.2.1", NOW + 3)
        .unwrap();
    let linked = store.user("vera").unwrap();
    assert!(linked.password);
    assert_eq!(linked.oidc_issuer.as_deref(), Some(ISSUER));
    assert!(
        audit_actions(&store)
            .iter()
            .any(|(action, _)| action == "user_linked")
    );
}

proptest::proptest! {
    /// Whatever a provider (or someone in its place) sends, parsing and verification
    /// answer with an error, never a panic.
    #[test]
    fn hostile_provider_documents_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        let _ = KeySet::parse(&bytes);
        let _ = ProviderMetadata::parse(&bytes, ISSUER);
        let text = String::from_utf8_lossy(&bytes);
        let keys = KeySet::parse(br#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#).unwrap();
        let _ = verify_raw(&text, &keys);
    }

    #[test]
    fn hostile_tokens_never_panic(header in "[A-Za-z0-9_-]{0,80}", payload in "[A-Za-z0-9_-]{0,200}", signature in "[A-Za-z0-9_-]{0,100}") {
        let keys = KeySet::parse(br#"{"keys":[]}"#).unwrap();
        let token = format!("{header}.{payload}.{signature}");
        proptest::prop_assert!(verify_raw(&token, &keys).is_err());
    }
}

#[test]
fn provider_only_users_get_a_local_password_only_by_explicit_override() {
    let dir = tempfile::tempdir().unwrap();
    let store = AuthStore::open_in(dir.path()).unwrap();
    let carla = identity("carla", "f:1", Some(Role::Analyst));
    let OidcSignIn::Session(session) = store.sign_in_oidc(&carla, "192.0.2.1", NOW).unwrap() else {
        panic!("refused")
    };
    let before = audit_actions(&store).len();
    // A plain reset is refused: nothing changes, nothing is audited, the session lives on.
    assert!(matches!(
        store.set_password("carla", "carla local password", "admin", NOW + 1),
        Err(AuthError::ProviderOnly(name)) if name == "carla"
    ));
    assert!(!store.user("carla").unwrap().password);
    assert_eq!(audit_actions(&store).len(), before);
    assert!(store.session(&session.id, NOW + 2).unwrap().is_some());
    assert!(
        store
            .sign_in("carla", "carla local password", "192.0.2.1", NOW + 2)
            .is_err()
    );
    // Nor can she set one herself: there is no current password to prove.
    assert!(
        store
            .change_own_password("carla", "!oidc", "carla local password", NOW + 2)
            .is_err()
    );
    // The admin's explicit override works and says so in the audit log.
    let info = store
        .set_local_password("carla", "carla local password", "admin", NOW + 3)
        .unwrap();
    assert!(info.password);
    assert_eq!(info.oidc_issuer.as_deref(), Some(ISSUER));
    let (action, detail) = audit_actions(&store).pop().unwrap();
    assert_eq!(action, "password_changed");
    assert_eq!(detail["local_password_for_provider_user"], true, "{detail}");
    store
        .sign_in("carla", "carla local password", "192.0.2.1", NOW + 4)
        .unwrap();
    // Now that she has one, resetting it is an ordinary reset.
    store
        .set_password("carla", "another local password", "admin", NOW + 5)
        .unwrap();
    let (_, detail) = audit_actions(&store).pop().unwrap();
    assert_eq!(detail, json!({}));
    // Local users are unaffected.
    store
        .add_user("dario", Role::Viewer, "dario password 2026", "admin", NOW)
        .unwrap();
    store
        .set_password("dario", "dario password 2027", "admin", NOW + 6)
        .unwrap();
}
