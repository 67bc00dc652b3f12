//! ID token verification (OpenID Connect Core 1.0 §3.1.3.7): signature by a key of the
//! provider's JWK set, issuer, audience (and `azp`), expiry and issue time against a
//! caller-supplied clock, and the nonce of this sign-in.

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::OidcError;

/// Clock skew tolerated between us and the provider, seconds.
pub const LEEWAY_SECS: i64 = 60;
/// An ID token issued longer ago than this is refused even if not yet expired (the code
/// it came with is minutes old at most).
pub const MAX_AGE_SECS: i64 = 10 * 60;
/// Longest ID token accepted, bytes (they are a few KiB at most).
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// Signature algorithms accepted: asymmetric only. `none` and the HMAC family (keyed with
/// the client secret, which would let anyone holding it mint tokens) are refused.
pub const ALLOWED_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The provider's signing keys. Keys we cannot use (encryption keys, unknown types or
/// curves) are skipped one by one instead of failing the whole set: Keycloak, for one,
/// publishes `RSA-OAEP` encryption keys beside its signing keys.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<Jwk>,
}

impl KeySet {
    /// Parses a JWK Set document (RFC 7517 §5).
    pub fn parse(json: &[u8]) -> Result<KeySet, OidcError> {
        let document: Value = serde_json::from_slice(json)
            .map_err(|err| OidcError::Provider(format!("JWK set is not JSON: {err}")))?;
        let entries = document
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| OidcError::Provider("JWK set has no `keys` array".to_owned()))?;
        let keys = entries
            .iter()
            .filter_map(|entry| serde_json::from_value::<Jwk>(entry.clone()).ok())
            .filter(|jwk| {
                !matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption))
                    && !matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_))
            })
            .collect();
        Ok(KeySet { keys })
    }

    /// How many usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key for a token header: by `kid` when the header names one, else the only key
    /// of the right type.
    fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<&Jwk> {
        let fits = |jwk: &&Jwk| key_fits(jwk, alg);
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .filter(|jwk| jwk.common.key_id.as_deref() == Some(kid))
                .find(fits),
            None => {
                let mut candidates = self.keys.iter().filter(fits);
                let only = candidates.next();
                if candidates.next().is_some() {
                    None
                } else {
                    only
                }
            }
        }
    }

    /// Whether some key carries this id (if not, the provider may have rotated keys).
    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys
            .iter()
            .any(|jwk| jwk.common.key_id.as_deref() == Some(kid))
    }
}

/// Whether `jwk` may verify a signature made with `alg`: the key type matches the
/// algorithm's family and, when the key declares an algorithm, it is that one.
fn key_fits(jwk: &Jwk, alg: Algorithm) -> bool {
    let family_ok = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => matches!(
            alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
        ),
        AlgorithmParameters::EllipticCurve(params) => matches!(
            (&params.curve, alg),
            (jsonwebtoken::jwk::EllipticCurve::P256, Algorithm::ES256)
                | (jsonwebtoken::jwk::EllipticCurve::P384, Algorithm::ES384)
        ),
        AlgorithmParameters::OctetKeyPair(_) => alg == Algorithm::EdDSA,
        AlgorithmParameters::OctetKey(_) => false,
    };
    let declared_ok = jwk
        .common
        .key_algorithm
        .is_none_or(|declared| key_algorithm_is(declared, alg));
    family_ok && declared_ok
}

fn key_algorithm_is(declared: KeyAlgorithm, alg: Algorithm) -> bool {
    matches!(
        (declared, alg),
        (KeyAlgorithm::RS256, Algorithm::RS256)
            | (KeyAlgorithm::RS384, Algorithm::RS384)
            | (KeyAlgorithm::RS512, Algorithm::RS512)
            | (KeyAlgorithm::PS256, Algorithm::PS256)
            | (KeyAlgorithm::PS384, Algorithm::PS384)
            | (KeyAlgorithm::PS512, Algorithm::PS512)
            | (KeyAlgorithm::ES256, Algorithm::ES256)
            | (KeyAlgorithm::ES384, Algorithm::ES384)
            | (KeyAlgorithm::EdDSA, Algorithm::EdDSA)
    )
}

/// What a valid ID token must say.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    /// The provider's issuer identifier, exactly.
    pub issuer: &'a str,
    /// Our client id: must be in `aud`.
    pub client_id: &'a str,
    /// The nonce sent with this sign-in's authorization request.
    pub nonce: &'a str,
    /// Now, unix seconds.
    pub now: i64,
}

/// Why a token was refused, before we know whether a key refresh could help.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// No key with the header's `kid` (and right type): refetching the JWK set may help.
    UnknownKey(Option<String>),
    /// Anything else.
    Invalid(String),
}

/// Verifies `token` and returns its claims.
pub(crate) fn verify(
    token: &str,
    keys: &KeySet,
    expected: &Expected<'_>,
) -> Result<Map<String, Value>, Refusal> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Refusal::Invalid("ID token too large".to_owned()));
    }
    let header = jsonwebtoken::decode_header(token)
        .map_err(|err| Refusal::Invalid(format!("malformed ID token: {err}")))?;
    if !ALLOWED_ALGORITHMS.contains(&header.alg) {
        return Err(Refusal::Invalid(format!(
            "ID token signed with {:?}, which is not accepted",
            header.alg
        )));
    }
    let jwk = keys
        .find(header.kid.as_deref(), header.alg)
        .ok_or_else(|| Refusal::UnknownKey(header.kid.clone()))?;
    let key = DecodingKey::from_jwk(jwk)
        .map_err(|err| Refusal::Invalid(format!("unusable provider key: {err}")))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[expected.issuer]);
    validation.set_audience(&[expected.client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // Time is checked below against the caller's clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
        .map_err(|err| Refusal::Invalid(format!("ID token refused: {err}")))?;
    let claims = data.claims;
    check_times(&claims, expected.now)?;
    // OIDC Core §3.1.3.7 (3, 4): with several audiences, `azp` must be present and be us;
    // if present at all it must be us.
    let several_audiences = claims
        .get("aud")
        .and_then(Value::as_array)
        .is_some_and(|aud| aud.len() > 1);
    match claims.get("azp").and_then(Value::as_str) {
        Some(azp) if azp != expected.client_id => {
            return Err(Refusal::Invalid(format!(
                "ID token authorized party `{azp}` is not this client"
            )));
        }
        None if several_audiences => {
            return Err(Refusal::Invalid(
                "ID token has several audiences but no `azp`".to_owned(),
            ));
        }
        _ => {}
    }
    let nonce = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
    if !crate::constant_time_eq(nonce, expected.nonce) {
        return Err(Refusal::Invalid(
            "ID token nonce does not match this sign-in".to_owned(),
        ));
    }
    match claims.get("sub").and_then(Value::as_str) {
        Some(sub) if !sub.is_empty() && sub.len() <= 255 => {}
        _ => return Err(Refusal::Invalid("ID token `sub` is not usable".to_owned())),
    }
    Ok(claims)
}

fn check_times(claims: &Map<String, Value>, now: i64) -> Result<(), Refusal> {
    let time = |name: &str| claims.get(name).and_then(Value::as_i64);
    let exp = time("exp").ok_or_else(|| Refusal::Invalid("ID token has no `exp`".to_owned()))?;
    if exp + LEEWAY_SECS <= now {
        return Err(Refusal::Invalid("ID token expired".to_owned()));
    }
    let iat = time("iat").ok_or_else(|| Refusal::Invalid("ID token has no `iat`".to_owned()))?;
    if iat > now + LEEWAY_SECS {
        return Err(Refusal::Invalid("ID token issued in the future".to_owned()));
    }
    if iat + MAX_AGE_SECS + LEEWAY_SECS < now {
        return Err(Refusal::Invalid("ID token issued too long ago".to_owned()));
    }
    if let Some(nbf) = time("nbf")
        && nbf > now + LEEWAY_SECS
    {
        return Err(Refusal::Invalid("ID token not valid yet".to_owned()));
    }
    Ok(())
}
