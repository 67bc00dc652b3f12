//! `POST /api/v1/rules/test` through the router, with a SigmaHQ rule from the shared data.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::{AppState, router};

const ADMIN_TOKEN: &str = "admin-test-token";
const WHOAMI_RULE: &str = "whoami_output";

fn sigma_rule() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
        "../../../shared/data/sigma/rules/windows/process_creation/proc_creation_win_whoami_output.yml",
    )
}

struct Fixture {
    _dir: tempfile::TempDir,
    app: axum::Router,
    _pipeline: pipeline::Pipeline,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let rules_dir = dir.path().join("rules");
    std::fs::create_dir(&rules_dir).unwrap();
    std::fs::copy(sigma_rule(), rules_dir.join(format!("{WHOAMI_RULE}.yml"))).unwrap();
    let store: Arc<dyn store::EventStore> = Arc::new(
        store::EmbeddedStore::open(store::StoreConfig::new(dir.path().join("store"))).unwrap(),
    );
    let pipeline = pipeline::Pipeline::start(
        Arc::clone(&store),
        Arc::new(normalize::Normalizer::builtin()),
        16,
    );
    let app = router(AppState {
        intake: pipeline.intake(),
        store,
        auth: Arc::new(|token: &str| token == ADMIN_TOKEN),
        accounts: Arc::new(auth::AuthStore::open_in(dir.path()).unwrap()),
        metrics: None,
        rules: Arc::new(detect::RuleLibrary::open(vec![rules_dir], None)),
    });
    Fixture {
        _dir: dir,
        app,
        _pipeline: pipeline,
    }
}

async fn test_rule(app: &axum::Router, body: String) -> (StatusCode, Value) {
    let request = Request::post("/api/v1/rules/test")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A Sysmon process creation as the EVTX decoder stores it.
fn sysmon_process(image: &str, command_line: &str) -> Value {
    json!({
        "@timestamp": "2026-11-20T10:00:00Z",
        "winlog": {
            "channel": "Microsoft-Windows-Sysmon/Operational",
            "event_id": 1,
            "event_data": {"Image": image, "CommandLine": command_line},
        },
    })
}

const RULE_ID: &str = "c30fb093-1109-4dc8-88a8-b30d11c95a5d";

#[tokio::test]
async fn a_loaded_rule_says_whether_and_why_an_event_matches() {
    let f = fixture();
    let event = sysmon_process(r"C:\Windows\System32\whoami.exe", "whoami /FO CSV");
    let (status, body) = test_rule(
        &f.app,
        json!({"event": event, "rule_id": RULE_ID}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["matched"], true, "{body}");
    let result = &body["results"][0];
    assert_eq!(result["id"], RULE_ID);
    assert_eq!(result["level"], "medium");
    let sorted = |value: &Value| {
        let mut names: Vec<String> = serde_json::from_value(value.clone()).unwrap();
        names.sort();
        names
    };
    assert_eq!(
        sorted(&result["selections"]),
        ["selection_main_cli", "selection_main_img"]
    );
    assert_eq!(sorted(&result["fields"]), ["CommandLine", "Image"]);

    // Same process without the output option: no match, nothing explained.
    let event = sysmon_process(r"C:\Windows\System32\whoami.exe", "whoami /all");
    let (_, body) = test_rule(
        &f.app,
        json!({"event": event, "rule_id": RULE_ID}).to_string(),
    )
    .await;
    assert_eq!(body["matched"], false, "{body}");
    assert_eq!(body["results"][0]["selections"], json!([]));

    // The right command line in another logsource (a Security logon) does not match.
    let mut event = sysmon_process(r"C:\Windows\System32\whoami.exe", "whoami /FO CSV");
    event["winlog"]["channel"] = json!("Security");
    event["winlog"]["event_id"] = json!(4624);
    let (_, body) = test_rule(
        &f.app,
        json!({"event": event, "rule_id": RULE_ID}).to_string(),
    )
    .await;
    assert_eq!(body["matched"], false, "{body}");

    let (status, _) = test_rule(
        &f.app,
        json!({"event": {}, "rule_id": "no-such-rule"}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn pasted_sigma_yaml_is_tested_and_bad_input_is_refused() {
    let f = fixture();
    let yaml = std::fs::read_to_string(sigma_rule())
        .unwrap()
        .replace("' /FO CSV'", "' /v'");
    let event = sysmon_process(r"C:\Windows\System32\whoami.exe", "whoami /v");
    let (status, body) = test_rule(
        &f.app,
        json!({"event": event, "rule_yaml": yaml}).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["matched"], true, "{body}");

    for bad in [
        // Neither or both ways of naming the rule.
        json!({"event": {}}).to_string(),
        json!({"event": {}, "rule_id": RULE_ID, "rule_yaml": yaml}).to_string(),
        // Not Sigma, not YAML, an event that is not an object, truncated JSON.
        json!({"event": {}, "rule_yaml": "title: x\n"}).to_string(),
        json!({"event": {}, "rule_yaml": "detection: [unclosed"}).to_string(),
        json!({"event": [1, 2], "rule_id": RULE_ID}).to_string(),
        r#"{"event": {"a": "#.to_owned(),
    ] {
        let (status, body) = test_rule(&f.app, bad.clone()).await;
        assert!(status.is_client_error(), "{bad}: {status} {body}");
    }
    // A huge body is refused before it is parsed.
    let huge = json!({"event": {"x": "a".repeat(3 * 1024 * 1024)}, "rule_id": RULE_ID});
    let (status, _) = test_rule(&f.app, huge.to_string()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

/// `method path` with `body`, as the admin token (or without credentials).
async fn call(
    app: &axum::Router,
    method: &str,
    path: &str,
    body: String,
    authenticated: bool,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    if authenticated {
        request = request.header(header::AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::from(body)).unwrap())
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

async fn listed_levels(app: &axum::Router) -> (Value, Value) {
    let (status, body) = call(app, "GET", "/api/v1/rules", String::new(), true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rule = &body["rules"][0];
    assert_eq!(rule["id"], RULE_ID, "{body}");
    (rule["level"].clone(), rule["original_level"].clone())
}

#[tokio::test]
async fn a_rule_level_is_overridden_listed_used_and_cleared() {
    let f = fixture();
    let path = format!("/api/v1/rules/{RULE_ID}/level");
    assert_eq!(
        listed_levels(&f.app).await,
        (json!("medium"), json!("medium"))
    );

    let (status, body) = call(
        &f.app,
        "POST",
        &path,
        json!({"level": "critical"}).to_string(),
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"id": RULE_ID, "level": "critical"}));
    assert_eq!(
        listed_levels(&f.app).await,
        (json!("critical"), json!("medium"))
    );
    // The rules handed to detection carry it (here: what the rule test reports).
    let event = sysmon_process(r"C:\Windows\System32\whoami.exe", "whoami /FO CSV");
    let (_, body) = test_rule(
        &f.app,
        json!({"event": event, "rule_id": RULE_ID}).to_string(),
    )
    .await;
    assert_eq!(body["results"][0]["level"], "critical", "{body}");

    for bad in [
        json!({"level": "severe"}).to_string(),
        json!({"level": "High"}).to_string(),
        json!({"level": 3}).to_string(),
        json!({}).to_string(),
        json!({"level": "low", "extra": 1}).to_string(),
        r#"{"level": "#.to_owned(),
    ] {
        let (status, body) = call(&f.app, "POST", &path, bad.clone(), true).await;
        assert!(status.is_client_error(), "{bad}: {status} {body}");
    }
    assert_eq!(
        listed_levels(&f.app).await,
        (json!("critical"), json!("medium"))
    );
    let (status, _) = call(
        &f.app,
        "POST",
        "/api/v1/rules/no-such-rule/level",
        json!({"level": "low"}).to_string(),
        true,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(
        &f.app,
        "POST",
        &path,
        json!({"level": "low"}).to_string(),
        false,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, body) = call(
        &f.app,
        "POST",
        &path,
        json!({"level": null}).to_string(),
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"id": RULE_ID, "level": null}));
    assert_eq!(
        listed_levels(&f.app).await,
        (json!("medium"), json!("medium"))
    );
}
