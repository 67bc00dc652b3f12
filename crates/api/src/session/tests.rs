//! Accounts through the router: sessions, CSRF, roles, tokens, triage, headers.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::{AppState, router};

const ADMIN_TOKEN: &str = "admin-test-token";
const PASSWORD: &str = "a long enough password";

struct Fixture {
    _dir: tempfile::TempDir,
    app: axum::Router,
    accounts: Arc<auth::AuthStore>,
    _pipeline: pipeline::Pipeline,
}

fn fixture() -> Fixture {
    fixture_with(auth::AuthPolicy::recommended(), None)
}

fn fixture_with(policy: auth::AuthPolicy, trusted: Option<crate::TrustedProxies>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn store::EventStore> = Arc::new(
        store::EmbeddedStore::open(store::StoreConfig::new(dir.path().join("store"))).unwrap(),
    );
    let pipeline = pipeline::Pipeline::start(
        Arc::clone(&store),
        Arc::new(normalize::Normalizer::builtin()),
        16,
    );
    let accounts = Arc::new(auth::AuthStore::open(&dir.path().join("auth.redb"), policy).unwrap());
    for (name, role) in [
        ("alice", auth::Role::Admin),
        ("carla", auth::Role::Analyst),
        ("vera", auth::Role::Viewer),
    ] {
        accounts.add_user(name, role, PASSWORD, "test", 0).unwrap();
    }
    let app = router(AppState {
        intake: pipeline.intake(),
        store,
        auth: Arc::new(|token: &str| token == ADMIN_TOKEN),
        accounts: Arc::clone(&accounts),
        metrics: None,
        rules: Arc::new(detect::RuleLibrary::open(Vec::new(), None)),
    });
    let app = match trusted {
        Some(trusted) => app.layer(axum::Extension(trusted)),
        None => app,
    };
    Fixture {
        _dir: dir,
        app,
        accounts,
        _pipeline: pipeline,
    }
}

#[derive(Default)]
struct Call<'a> {
    cookie: Option<&'a str>,
    csrf: Option<&'a str>,
    bearer: Option<&'a str>,
    forwarded_https: bool,
    /// The connection's peer, as `serve(.., into_make_service_with_connect_info)` gives it.
    peer: Option<&'a str>,
    forwarded_for: Option<&'a str>,
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
    how: Call<'_>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(cookie) = how.cookie {
        request = request.header(header::COOKIE, format!("sentinella_session={cookie}"));
    }
    if let Some(csrf) = how.csrf {
        request = request.header("X-CSRF-Token", csrf);
    }
    if let Some(token) = how.bearer {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if how.forwarded_https {
        request = request.header("X-Forwarded-Proto", "https");
    }
    if let Some(hops) = how.forwarded_for {
        request = request.header("X-Forwarded-For", hops);
    }
    if let Some(peer) = how.peer {
        let addr: std::net::SocketAddr = peer.parse().unwrap();
        request = request.extension(axum::extract::ConnectInfo(addr));
    }
    let body = match body {
        Some(value) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(value.to_string())
        }
        None => Body::empty(),
    };
    let response = app
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// Signs in; returns (session id from the cookie, csrf token).
async fn sign_in(app: &axum::Router, user: &str) -> (String, String) {
    let answer = call(
        app,
        "POST",
        "/api/v1/session",
        Some(json!({"user": user, "password": PASSWORD})),
        Call::default(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let cookie = answer.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let id = cookie
        .strip_prefix("sentinella_session=")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    (id, answer.body["csrf"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookie_csrf_and_sign_out() {
    let f = fixture();
    let (id, csrf) = sign_in(&f.app, "carla").await;
    let me = call(
        &f.app,
        "GET",
        "/api/v1/session",
        None,
        Call {
            cookie: Some(&id),
            ..Call::default()
        },
    )
    .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["user"]["name"], "carla");
    assert_eq!(me.body["user"]["role"], "analyst");
    assert_eq!(me.body["csrf"], csrf.as_str());

    let change = json!({"status": "acknowledged"});
    let alert = "/api/v1/alerts/0123456789abcdef0123456789abcdef/status";
    // Without the CSRF token, or with a wrong one: refused, whatever the role.
    for wrong in [None, Some("0000")] {
        let answer = call(
            &f.app,
            "POST",
            alert,
            Some(change.clone()),
            Call {
                cookie: Some(&id),
                csrf: wrong,
                ..Call::default()
            },
        )
        .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        assert_eq!(answer.body["error"]["code"], "csrf");
    }
    let answer = call(
        &f.app,
        "POST",
        alert,
        Some(change.clone()),
        Call {
            cookie: Some(&id),
            csrf: Some(&csrf),
            ..Call::default()
        },
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["alerts"][0]["state"]["status"], "acknowledged");
    // Reads need no CSRF token.
    let answer = call(
        &f.app,
        "GET",
        "/api/v1/stats",
        None,
        Call {
            cookie: Some(&id),
            ..Call::default()
        },
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);

    let out = call(
        &f.app,
        "DELETE",
        "/api/v1/session",
        None,
        Call {
            cookie: Some(&id),
            csrf: Some(&csrf),
            ..Call::default()
        },
    )
    .await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(
        out.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let after = call(
        &f.app,
        "GET",
        "/api/v1/session",
        None,
        Call {
            cookie: Some(&id),
            ..Call::default()
        },
    )
    .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_failures_fixation_and_secure_cookie() {
    let f = fixture();
    let bad = call(
        &f.app,
        "POST",
        "/api/v1/session",
        Some(json!({"user": "carla", "password": "nope nope nope"})),
        Call::default(),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert_eq!(bad.body["error"]["code"], "sign_in_failed");
    assert!(bad.headers.get(header::SET_COOKIE).is_none());
    // A form post (no JSON content type) cannot sign in: no login CSRF from other sites.
    let form = Request::builder()
        .method("POST")
        .uri("/api/v1/session")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("user=carla&password=x"))
        .unwrap();
    let answer = f.app.clone().oneshot(form).await.unwrap();
    assert_eq!(answer.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Session fixation: a session id the attacker planted is never the one issued.
    let planted = "a".repeat(64);
    let answer = call(
        &f.app,
        "POST",
        "/api/v1/session",
        Some(json!({"user": "carla", "password": PASSWORD})),
        Call {
            cookie: Some(&planted),
            ..Call::default()
        },
    )
    .await;
    let cookie = answer.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!cookie.contains(&planted));
    assert!(!cookie.contains("Secure"));
    let answer = call(
        &f.app,
        "POST",
        "/api/v1/session",
        Some(json!({"user": "carla", "password": PASSWORD})),
        Call {
            forwarded_https: true,
            ..Call::default()
        },
    )
    .await;
    assert!(
        answer.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("; Secure")
    );
    // Brute force: the account locks, and the right password no longer works.
    for _ in 0..f.accounts.policy().max_failed_sign_ins {
        call(
            &f.app,
            "POST",
            "/api/v1/session",
            Some(json!({"user": "vera", "password": "guess guess guess"})),
            Call::default(),
        )
        .await;
    }
    let locked = call(
        &f.app,
        "POST",
        "/api/v1/session",
        Some(json!({"user": "vera", "password": PASSWORD})),
        Call::default(),
    )
    .await;
    assert_eq!(locked.status, StatusCode::FORBIDDEN);
    assert_eq!(locked.body["error"]["code"], "locked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_are_enforced() {
    let f = fixture();
    let (viewer, viewer_csrf) = sign_in(&f.app, "vera").await;
    let as_viewer = || Call {
        cookie: Some(&viewer),
        csrf: Some(&viewer_csrf),
        ..Call::default()
    };
    let alert = "/api/v1/alerts/0123456789abcdef0123456789abcdef/status";
    let answer = call(
        &f.app,
        "POST",
        alert,
        Some(json!({"status": "closed_false_positive"})),
        as_viewer(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.body["error"]["code"], "forbidden");
    for (method, uri) in [
        ("GET", "/api/v1/users"),
        ("GET", "/api/v1/audit"),
        ("POST", "/api/v1/ingest"),
    ] {
        let answer = call(&f.app, method, uri, Some(json!({})), as_viewer()).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{method} {uri}");
    }
    // Viewers still search (POST with a body is a read) and manage their own tokens.
    let answer = call(
        &f.app,
        "POST",
        "/api/v1/search",
        Some(json!({"q": "*"})),
        as_viewer(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let token = call(
        &f.app,
        "POST",
        "/api/v1/tokens",
        Some(json!({"name": "cron"})),
        as_viewer(),
    )
    .await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.body);
    let secret = token.body["token"].as_str().unwrap().to_owned();
    // The token carries the viewer role, and needs no CSRF token.
    let with_token = || Call {
        bearer: Some(&secret),
        ..Call::default()
    };
    assert_eq!(
        call(&f.app, "GET", "/api/v1/stats", None, with_token())
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        call(
            &f.app,
            "POST",
            alert,
            Some(json!({"status": "acknowledged"})),
            with_token()
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    // The admin token is an admin.
    let admin = || Call {
        bearer: Some(ADMIN_TOKEN),
        ..Call::default()
    };
    let users = call(&f.app, "GET", "/api/v1/users", None, admin()).await;
    assert_eq!(users.status, StatusCode::OK);
    assert_eq!(users.body["users"].as_array().unwrap().len(), 3);
    let added = call(
        &f.app,
        "POST",
        "/api/v1/users",
        Some(json!({"name": "dario", "role": "analyst", "password": PASSWORD})),
        admin(),
    )
    .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    let disabled = call(
        &f.app,
        "POST",
        "/api/v1/users/vera",
        Some(json!({"disabled": true})),
        admin(),
    )
    .await;
    assert_eq!(disabled.status, StatusCode::OK);
    // Disabling ends the viewer's session and token at once.
    assert_eq!(
        call(&f.app, "GET", "/api/v1/stats", None, as_viewer())
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&f.app, "GET", "/api/v1/stats", None, with_token())
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // Everything above is in the audit log, newest first, readable by admins only.
    let audit = call(&f.app, "GET", "/api/v1/audit?limit=3", None, admin()).await;
    let actions: Vec<&str> = audit.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["user_disabled", "user_created", "token_created"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_time_password_must_be_changed_first() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let fresh = auth::AuthStore::open_in(dir.path()).unwrap();
    fresh.ensure_initial_admin(dir.path(), 0).unwrap().unwrap();
    let password =
        std::fs::read_to_string(dir.path().join(auth::INITIAL_ADMIN_PASSWORD_FILE)).unwrap();
    let app = router(AppState {
        intake: f._pipeline.intake(),
        store: Arc::new(
            store::EmbeddedStore::open(store::StoreConfig::new(dir.path().join("store"))).unwrap(),
        ),
        auth: Arc::new(|_: &str| false),
        accounts: Arc::new(fresh),
        metrics: None,
        rules: Arc::new(detect::RuleLibrary::open(Vec::new(), None)),
    });
    let answer = call(
        &app,
        "POST",
        "/api/v1/session",
        Some(json!({"user": "admin", "password": password.trim()})),
        Call::default(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["user"]["must_change_password"], true);
    let cookie = answer.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    let id = cookie
        .strip_prefix("sentinella_session=")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let csrf = answer.body["csrf"].as_str().unwrap().to_owned();
    let how = || Call {
        cookie: Some(&id),
        csrf: Some(&csrf),
        ..Call::default()
    };
    let blocked = call(&app, "GET", "/api/v1/users", None, how()).await;
    assert_eq!(blocked.status, StatusCode::FORBIDDEN);
    assert_eq!(blocked.body["error"]["code"], "password_change_required");
    let changed = call(
        &app,
        "POST",
        "/api/v1/session/password",
        Some(json!({"current": password.trim(), "new": PASSWORD})),
        how(),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["user"]["must_change_password"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_list_carries_status_and_filters_by_it() {
    let f = fixture();
    let admin = || Call {
        bearer: Some(ADMIN_TOKEN),
        ..Call::default()
    };
    let alerts = r#"{"@timestamp":"2026-01-01T10:00:00Z","event":{"kind":"alert"},"rule":{"name":"Mimikatz"},"sentinella":{"alert":{"level":"high"}},"host":{"name":"ws-1"}}
{"@timestamp":"2026-01-01T11:00:00Z","event":{"kind":"alert"},"rule":{"name":"Brute force"},"sentinella":{"alert":{"level":"medium"}},"host":{"name":"ws-2"}}"#;
    let request = Request::builder()
        .method("POST")
        .uri("/api/v1/ingest")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}"))
        .body(Body::from(alerts))
        .unwrap();
    assert_eq!(
        f.app.clone().oneshot(request).await.unwrap().status(),
        StatusCode::OK
    );
    call(&f.app, "POST", "/api/v1/store/refresh", None, admin()).await;
    let list = call(&f.app, "GET", "/api/v1/alerts", None, admin()).await;
    assert_eq!(list.body["total"], 2, "{}", list.body);
    let hits = list.body["hits"].as_array().unwrap();
    assert!(
        hits.iter()
            .all(|hit| hit["sentinella"]["alert"]["status"] == "new")
    );
    let id = hits[0]["sentinella"]["alert"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Ids are stable across listings.
    let again = call(&f.app, "GET", "/api/v1/alerts", None, admin()).await;
    assert_eq!(
        again.body["hits"][0]["sentinella"]["alert"]["id"],
        id.as_str()
    );
    let (carla, csrf) = sign_in(&f.app, "carla").await;
    let answer = call(&f.app, "POST", "/api/v1/alerts/status", Some(json!({"ids": [id], "status": "closed_true_positive", "assignee": "carla", "comment": "<img src=x onerror=alert(1)>"})), Call { cookie: Some(&carla), csrf: Some(&csrf), ..Call::default() }).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let open = call(
        &f.app,
        "GET",
        "/api/v1/alerts?status=new,acknowledged",
        None,
        admin(),
    )
    .await;
    assert_eq!(open.body["total"], 1);
    let closed = call(
        &f.app,
        "GET",
        "/api/v1/alerts?status=closed_true_positive",
        None,
        admin(),
    )
    .await;
    assert_eq!(closed.body["total"], 1);
    let alert = &closed.body["hits"][0]["sentinella"]["alert"];
    assert_eq!(alert["assignee"], "carla");
    assert_eq!(alert["comments"][0]["text"], "<img src=x onerror=alert(1)>");
    let by_rule = call(
        &f.app,
        "GET",
        "/api/v1/alerts?rule=Brute%20force&level=medium",
        None,
        admin(),
    )
    .await;
    assert_eq!(by_rule.body["total"], 1, "{}", by_rule.body);
    assert_eq!(by_rule.body["hits"][0]["host"]["name"], "ws-2");
    let bad = call(
        &f.app,
        "POST",
        "/api/v1/alerts/not-an-id/status",
        Some(json!({"status": "new"})),
        admin(),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_is_served_with_a_strict_policy() {
    let f = fixture();
    for uri in ["/ui/", "/ui/search", "/ui/app.js"] {
        let answer = call(&f.app, "GET", uri, None, Call::default()).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}");
        let csp = answer.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(answer.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
    let root = call(&f.app, "GET", "/", None, Call::default()).await;
    assert_eq!(root.status, StatusCode::SEE_OTHER);
    // Data routes stay closed, with the headers too.
    let closed = call(&f.app, "GET", "/api/v1/search", None, Call::default()).await;
    assert_eq!(closed.status, StatusCode::UNAUTHORIZED);
    assert!(closed.headers.contains_key(header::CONTENT_SECURITY_POLICY));
    let doc = call(
        &f.app,
        "GET",
        "/api/v1/openapi.json",
        None,
        Call {
            bearer: Some(ADMIN_TOKEN),
            ..Call::default()
        },
    )
    .await;
    assert_eq!(doc.body["openapi"], "3.1.0");
}

/// Every route in the OpenAPI document answers 401 to an anonymous caller, except the
/// public ones, and exists (an authenticated call does not fall through to 404).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_needs_authentication() {
    let f = fixture();
    let doc: Value = serde_json::from_str(crate::openapi::OPENAPI_JSON).unwrap();
    let mut checked = 0;
    for (path, methods) in doc["paths"].as_object().unwrap() {
        let uri = path
            .replace("{id}", "0123456789abcdef0123456789abcdef")
            .replace("{name}", "carla");
        for (method, operation) in methods.as_object().unwrap() {
            // The unit router has no intelligence state; the e2e test covers those routes.
            let optional = operation.get("x-sentinella-requires").is_some();
            let method = method.to_uppercase();
            let public = path == "/health"
                || (path == "/api/v1/session" && method == "POST")
                || (crate::access::OIDC_PUBLIC_ROUTES.contains(&path.as_str()) && method == "GET")
                || crate::access::SELF_AUTHENTICATED_PREFIXES
                    .iter()
                    .any(|prefix| path.starts_with(prefix));
            let answer = call(&f.app, &method, &uri, Some(json!({})), Call::default()).await;
            if public {
                assert_ne!(answer.status, StatusCode::UNAUTHORIZED, "{method} {path}");
            } else {
                assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{method} {path}");
                checked += 1;
            }
            let known = call(
                &f.app,
                &method,
                &uri,
                Some(json!({})),
                Call {
                    bearer: Some(ADMIN_TOKEN),
                    ..Call::default()
                },
            )
            .await;
            let unrouted = !optional
                && known.status == StatusCode::NOT_FOUND
                && known.body["error"]["message"] == "no such route";
            assert!(!unrouted, "{method} {path} is documented but not routed");
        }
    }
    assert!(checked >= 20, "{checked}");
}

/// Failed sign-ins from `peer` (forwarding `forwarded_for`); returns the sources the
/// audit log recorded for them, newest first.
async fn audited_sources(f: &Fixture, peer: &str, forwarded_for: Option<&str>) -> String {
    let answer = call(
        &f.app,
        "POST",
        "/api/v1/session",
        Some(json!({"user": "nobody", "password": "not the password"})),
        Call {
            peer: Some(peer),
            forwarded_for,
            ..Call::default()
        },
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    let log = f.accounts.audit_log(None, 1).unwrap();
    log[0].detail["source"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn sign_in_source_is_the_peer_unless_a_trusted_proxy_forwards() {
    // An exact address and a network.
    let trusted = crate::TrustedProxies(vec![
        "10.0.0.1/32".parse().unwrap(),
        "10.0.0.2/31".parse().unwrap(),
        "fd00::/64".parse().unwrap(),
    ]);
    let f = fixture_with(auth::AuthPolicy::recommended(), Some(trusted));
    // A client cannot pick its own source by sending the header.
    assert_eq!(
        audited_sources(&f, "192.0.2.7:5000", Some("203.0.113.9")).await,
        "192.0.2.7"
    );
    // Through a trusted proxy: the rightmost untrusted hop (the client prepends lies).
    assert_eq!(
        audited_sources(&f, "10.0.0.1:443", Some("1.2.3.4, 203.0.113.9")).await,
        "203.0.113.9"
    );
    assert_eq!(
        audited_sources(&f, "10.0.0.1:443", Some("203.0.113.9, 10.0.0.2")).await,
        "203.0.113.9"
    );
    // A trusted proxy that forwards nothing, or garbage, is itself the source.
    assert_eq!(audited_sources(&f, "10.0.0.1:443", None).await, "10.0.0.1");
    assert_eq!(
        audited_sources(&f, "10.0.0.1:443", Some("<script>, 10.0.0.2")).await,
        "10.0.0.2"
    );
    // Every address of a trusted network is a proxy; its neighbours are not.
    assert_eq!(
        audited_sources(&f, "10.0.0.3:443", Some("203.0.113.9, 10.0.0.2")).await,
        "203.0.113.9"
    );
    assert_eq!(
        audited_sources(&f, "10.0.0.4:443", Some("203.0.113.9")).await,
        "10.0.0.4"
    );
    assert_eq!(
        audited_sources(&f, "[fd00::17]:443", Some("2001:db8::5, fd00::1")).await,
        "2001:db8::5"
    );
    // IPv4-mapped IPv6 peers are the IPv4 address.
    assert_eq!(
        audited_sources(&f, "[::ffff:192.0.2.8]:5000", None).await,
        "192.0.2.8"
    );
    // Without any trusted proxy configured, the header is ignored.
    let f = fixture();
    assert_eq!(
        audited_sources(&f, "10.0.0.1:443", Some("203.0.113.9")).await,
        "10.0.0.1"
    );
}

#[tokio::test]
async fn a_spraying_source_is_refused_but_others_still_sign_in() {
    let policy = auth::AuthPolicy {
        max_failed_per_source: 3,
        ..auth::AuthPolicy::recommended()
    };
    let f = fixture_with(policy, None);
    let from = |peer| Call {
        peer: Some(peer),
        ..Call::default()
    };
    for user in ["alice", "carla", "vera"] {
        let answer = call(
            &f.app,
            "POST",
            "/api/v1/session",
            Some(json!({"user": user, "password": "Winter2026!"})),
            from("192.0.2.7:4000"),
        )
        .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.body);
    }
    // The right password, another port: the address is what counts.
    let refused = call(
        &f.app,
        "POST",
        "/api/v1/session",
        Some(json!({"user": "carla", "password": PASSWORD})),
        from("192.0.2.7:4001"),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(refused.body["error"]["code"], "source_blocked");
    assert!(refused.headers.get(header::SET_COOKIE).is_none());
    let other = call(
        &f.app,
        "POST",
        "/api/v1/session",
        Some(json!({"user": "carla", "password": PASSWORD})),
        from("198.51.100.1:4000"),
    )
    .await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.body);
    let actions: Vec<String> = f
        .accounts
        .audit_log(None, 10)
        .unwrap()
        .into_iter()
        .map(|entry| entry.action)
        .collect();
    assert!(
        actions.contains(&"source_blocked".to_owned()),
        "{actions:?}"
    );
}

proptest::proptest! {
    /// Whatever a client sends as `X-Forwarded-For`, the source is the peer or a real IP
    /// address, never the header's text.
    #[test]
    fn forwarded_for_never_yields_anything_but_an_address(
        hops in proptest::collection::vec("[0-9a-f.:, <>\\[\\]x]{0,40}", 0..4),
        trusted_peer in proptest::bool::ANY,
    ) {
        let mut headers = axum::http::HeaderMap::new();
        for hop in &hops {
            if let Ok(value) = axum::http::HeaderValue::from_str(hop) {
                headers.append("x-forwarded-for", value);
            }
        }
        let trusted = crate::TrustedProxies(vec!["10.0.0.0/24".parse().unwrap()]);
        let peer: std::net::SocketAddr = if trusted_peer { "10.0.0.1:1" } else { "192.0.2.7:1" }
            .parse()
            .unwrap();
        let source = crate::session::client_address(Some(peer), &headers, &trusted);
        proptest::prop_assert!(source.parse::<std::net::IpAddr>().is_ok(), "{}", source);
        if !trusted_peer {
            proptest::prop_assert_eq!(source, "192.0.2.7");
        }
    }
}

/// A provider that answers discovery and refuses every code (the full flow against a real
/// provider is tests/e2e/test_oidc.py); `reachable: false` fails every call.
struct RefusingProvider {
    reachable: bool,
}

impl auth::oidc::Transport for RefusingProvider {
    fn get(&self, url: &str, _bearer: Option<&str>) -> Result<auth::oidc::Reply, String> {
        if !self.reachable {
            return Err("connection refused".to_owned());
        }
        assert_eq!(
            url,
            "https://sso.example.it/.well-known/openid-configuration"
        );
        let body = json!({
            "issuer": "https://sso.example.it",
            "authorization_endpoint": "https://sso.example.it/auth",
            "token_endpoint": "https://sso.example.it/token",
            "jwks_uri": "https://sso.example.it/certs",
        });
        Ok(auth::oidc::Reply {
            status: 200,
            body: body.to_string().into_bytes(),
        })
    }

    fn post_form(
        &self,
        _url: &str,
        _form: &[(&str, &str)],
        _basic: Option<(&str, &str)>,
    ) -> Result<auth::oidc::Reply, String> {
        Ok(auth::oidc::Reply {
            status: 400,
            body: br#"{"error":"invalid_grant"}"#.to_vec(),
        })
    }
}

fn with_oidc(f: &Fixture, reachable: bool) -> axum::Router {
    let settings = auth::oidc::OidcSettings {
        display_name: "Keycloak".to_owned(),
        issuer: "https://sso.example.it".to_owned(),
        client_id: "sentinella".to_owned(),
        client_secret: Some("secret".to_owned()),
        redirect_uri: "https://soc.example.it/api/v1/session/oidc/callback".to_owned(),
        scopes: vec!["openid".to_owned()],
        username_claims: vec!["preferred_username".to_owned()],
        role_claim: None,
        role_map: Vec::new(),
        default_role: Some(auth::Role::Viewer),
        auto_provision: false,
        link_local_users: false,
        acr_values: Vec::new(),
        provider_sign_out: true,
    };
    f.app
        .clone()
        .layer(axum::Extension(crate::OidcSignInService {
            relying_party: Arc::new(auth::oidc::RelyingParty::new(settings).unwrap()),
            transport: Arc::new(RefusingProvider { reachable }),
        }))
}

async fn get_with_cookie(app: &axum::Router, uri: &str, cookie: Option<&str>) -> Answer {
    let mut request = Request::builder()
        .uri(uri)
        .header("X-Forwarded-Proto", "https");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    Answer {
        status: response.status(),
        headers: response.headers().clone(),
        body: Value::Null,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_routes_redirect_bind_state_to_the_browser_and_audit_failures() {
    let f = fixture();
    let app = with_oidc(&f, true);
    let describe = call(&app, "GET", "/api/v1/session/oidc", None, Call::default()).await;
    assert_eq!(describe.body, json!({"enabled": true, "name": "Keycloak"}));

    let start = get_with_cookie(&app, "/api/v1/session/oidc/start", None).await;
    assert_eq!(start.status, StatusCode::SEE_OTHER);
    let location = start.headers[header::LOCATION].to_str().unwrap();
    assert!(
        location
            .starts_with("https://sso.example.it/auth?response_type=code&client_id=sentinella&"),
        "{location}"
    );
    let set_cookie = start.headers[header::SET_COOKIE].to_str().unwrap();
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Secure",
        "Path=/api/v1/session/oidc;",
    ] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let state_pair = set_cookie.split(';').next().unwrap().to_owned();
    let state = state_pair.strip_prefix("sentinella_oidc=").unwrap();
    assert!(location.contains(&format!("state={state}")), "{location}");
    let audited = f.accounts.audit_log(None, 1000).unwrap().len();

    // Another state than this browser's: refused, the browser's own sign-in left alone,
    // nothing audited (anyone can send this).
    let forged = get_with_cookie(
        &app,
        "/api/v1/session/oidc/callback?state=forged&code=x",
        Some(&state_pair),
    )
    .await;
    assert_eq!(forged.status, StatusCode::SEE_OTHER);
    assert_eq!(
        forged.headers[header::LOCATION],
        "/ui/signin?sso_error=state"
    );
    assert!(forged.headers.get(header::SET_COOKIE).is_none());
    assert_eq!(f.accounts.audit_log(None, 1000).unwrap().len(), audited);

    // This browser's state, a code the provider refuses: audited, state cookie spent.
    let refused = get_with_cookie(
        &app,
        &format!("/api/v1/session/oidc/callback?state={state}&code=x"),
        Some(&state_pair),
    )
    .await;
    assert_eq!(
        refused.headers[header::LOCATION],
        "/ui/signin?sso_error=provider"
    );
    let cleared = refused.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cleared.starts_with("sentinella_oidc=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let entry = &f.accounts.audit_log(None, 1).unwrap()[0];
    assert_eq!(entry.action, "sign_in_failed");
    assert_eq!(entry.detail["reason"], "provider");
    assert_eq!(entry.detail["via"], "oidc");
    assert!(
        refused
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("sentinella_session="))
    );

    // The provider unreachable: back to the sign-in page with the reason.
    let down = get_with_cookie(&with_oidc(&f, false), "/api/v1/session/oidc/start", None).await;
    assert_eq!(
        down.headers[header::LOCATION],
        "/ui/signin?sso_error=unreachable"
    );
    assert!(down.headers.get(header::SET_COOKIE).is_none());
}
