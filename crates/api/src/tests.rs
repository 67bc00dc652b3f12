use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt as _;

use crate::{AppState, router};

const TOKEN: &str = "test-token";

struct Fixture {
    _dir: tempfile::TempDir,
    app: axum::Router,
    _pipeline: pipeline::Pipeline,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn store::EventStore> = Arc::new(
        store::EmbeddedStore::open(store::StoreConfig::new(dir.path().to_owned())).unwrap(),
    );
    let pipeline = pipeline::Pipeline::start(
        Arc::clone(&store),
        Arc::new(normalize::Normalizer::builtin()),
        16,
    );
    let app = router(AppState {
        intake: pipeline.intake(),
        store,
        auth: Arc::new(|token: &str| token == TOKEN),
        accounts: Arc::new(auth::AuthStore::open_in(dir.path()).unwrap()),
        metrics: None,
        rules: Arc::new(detect::RuleLibrary::open(Vec::new(), None)),
    });
    Fixture {
        _dir: dir,
        app,
        _pipeline: pipeline,
    }
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: &str,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_then_search_round_trip() {
    let fixture = fixture();
    let body = r#"{"@timestamp":"2024-02-01T10:00:00Z","message":"vpn login","user":{"name":"carla"},"source":{"ip":"198.51.100.4"}}
{"@timestamp":"2024-02-01T11:00:00Z","message":"vpn logout","user":{"name":"carla"}}"#;
    let (status, answer) = call(&fixture.app, "POST", "/api/v1/ingest", body, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], 2);
    let (status, _) = call(
        &fixture.app,
        "POST",
        "/api/v1/store/refresh",
        "",
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let (status, answer) = call(
        &fixture.app,
        "GET",
        "/api/v1/search?q=user.name:carla%20AND%20login",
        "",
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["total"], 1);
    assert_eq!(answer["hits"][0]["source"]["ip"], "198.51.100.4");
    assert_eq!(answer["hits"][0]["input"]["type"], "http");

    let request = r#"{"q":"user.name:carla","from":"2024-02-01T10:30:00Z","aggregations":[{"type":"terms","name":"users","field":"user.name"}]}"#;
    let (status, answer) = call(&fixture.app, "POST", "/api/v1/search", request, Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["total"], 1);
    assert_eq!(
        answer["aggregations"]["users"]["buckets"][0]["key"],
        "carla"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_json_with_stable_codes() {
    let fixture = fixture();
    let (status, answer) = call(
        &fixture.app,
        "GET",
        "/api/v1/search?q=(unclosed",
        "",
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"]["code"], "bad_request");
    let (status, answer) = call(
        &fixture.app,
        "GET",
        "/api/v1/search?q=*&to=not-a-time",
        "",
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, answer) = call(
        &fixture.app,
        "POST",
        "/api/v1/search",
        r#"{"q":"*","bogus":1}"#,
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let (status, answer) = call(&fixture.app, "POST", "/api/v1/ingest", "{oops", Some(TOKEN)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 1"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_health_is_open() {
    let fixture = fixture();
    let (status, _) = call(&fixture.app, "GET", "/health", "", None).await;
    assert_eq!(status, StatusCode::OK);
    for (method, uri) in [
        ("GET", "/api/v1/search?q=*"),
        ("POST", "/api/v1/ingest"),
        ("POST", "/api/v1/ingest/records"),
        ("GET", "/api/v1/stats"),
        ("GET", "/metrics"),
        ("GET", "/nope"),
    ] {
        let (status, answer) = call(&fixture.app, method, uri, "", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        assert_eq!(answer["error"]["code"], "unauthorized");
        let (status, _) = call(&fixture.app, method, uri, "", Some("wrong")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri}");
    }
}
