use std::{
    io::Write as _,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Method, Request, StatusCode},
};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use flate2::{Compression, write::GzEncoder};
use pipeline::{Ack, Batch, Intake, Job, Payload, SubmitError};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tower::ServiceExt as _;

use super::{ElasticsearchConfig, INPUT_ES_BULK, bulk, router};
use crate::auth::TokenCheck;

const TOKEN: &str = "s3cret";

fn auth() -> Arc<dyn TokenCheck> {
    Arc::new(|token: &str| token == TOKEN)
}

/// Batches the fake pipeline received.
type Received = Arc<Mutex<Vec<Batch>>>;

/// A fake pipeline that acknowledges every batch, numbering events from 1.
fn acking_consumer(mut jobs: mpsc::Receiver<Job>) -> Received {
    let received = Received::default();
    let record = received.clone();
    tokio::spawn(async move {
        let mut last_seq = 0;
        while let Some(Job { batch, ack }) = jobs.recv().await {
            let n_events = batch.items.len();
            last_seq += n_events as u64;
            record.lock().unwrap().push(batch);
            let _ = ack.send(Ok(Ack { n_events, last_seq }));
        }
    });
    received
}

fn app() -> (Router, Received) {
    let (intake, jobs) = Intake::channel(8);
    (router(intake, auth()), acking_consumer(jobs))
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn request(method: Method, uri: &str, body: impl Into<Body>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(body.into())
        .unwrap()
}

fn post(uri: &str, body: &str) -> Request<Body> {
    request(Method::POST, uri, body.to_owned())
}

fn get(uri: &str) -> Request<Body> {
    request(Method::GET, uri, Body::empty())
}

/// Every document the fake pipeline received, as `(doc, original)`.
fn documents(received: &Received) -> Vec<(Value, String)> {
    let batches = received.lock().unwrap();
    batches
        .iter()
        .flat_map(|batch| {
            assert_eq!(batch.input_type, INPUT_ES_BULK);
            batch.items.iter().map(|item| match item {
                Payload::Json { doc, original } => {
                    (Value::Object(doc.clone()), original.clone().unwrap())
                }
                other => panic!("unexpected payload {other:?}"),
            })
        })
        .collect()
}

#[tokio::test]
async fn cluster_info_identifies_as_elasticsearch() {
    let (app, _) = app();
    let answer = send(&app, get("/")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["x-elastic-product"], "Elasticsearch");
    assert_eq!(answer.headers["content-type"], "application/json");
    assert_eq!(answer.body["version"]["number"], "8.17.0");
    assert_eq!(answer.body["version"]["build_flavor"], "default");
    assert_eq!(
        answer.body["version"]["minimum_wire_compatibility_version"],
        "7.17.0"
    );
    assert!(answer.body["version"]["lucene_version"].is_string());
    assert_eq!(answer.body["tagline"], "You Know, for Search");
    assert_eq!(answer.body["cluster_name"], "sentinella");

    let answer = send(&app, request(Method::HEAD, "/", Body::empty())).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["x-elastic-product"], "Elasticsearch");
}

#[tokio::test]
async fn compatibility_media_type_is_echoed() {
    let (app, _) = app();
    for version in ["8", "9"] {
        let mut request = get("/");
        request.headers_mut().insert(
            "accept",
            format!("application/vnd.elasticsearch+json; compatible-with={version}")
                .parse()
                .unwrap(),
        );
        let answer = send(&app, request).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(
            answer.headers["content-type"],
            format!("application/vnd.elasticsearch+json;compatible-with={version}").as_str()
        );
    }
}

#[tokio::test]
async fn missing_or_wrong_credentials_get_401() {
    let (app, received) = app();
    let unauthenticated = Request::builder()
        .method(Method::POST)
        .uri("/_bulk")
        .body(Body::from("{\"index\":{\"_index\":\"a\"}}\n{}\n"))
        .unwrap();
    let answer = send(&app, unauthenticated).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.headers["x-elastic-product"], "Elasticsearch");
    let challenges: Vec<_> = answer.headers.get_all("www-authenticate").iter().collect();
    assert_eq!(challenges.len(), 3);
    assert_eq!(answer.body["error"]["type"], "security_exception");
    assert_eq!(answer.body["status"], 401);

    for authorization in [
        "Bearer nope".to_owned(),
        format!("Basic {}", STANDARD.encode("elastic:nope")),
        "Token s3cret".to_owned(),
    ] {
        let mut request = get("/_license");
        request
            .headers_mut()
            .insert("authorization", authorization.parse().unwrap());
        let answer = send(&app, request).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{authorization}");
    }
    // Unknown routes are behind authentication too.
    let request = Request::builder()
        .uri("/nope/nope/nope")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, request).await.status, StatusCode::UNAUTHORIZED);
    assert!(received.lock().unwrap().is_empty());
}

#[tokio::test]
async fn basic_and_api_key_credentials_are_accepted() {
    let (app, _) = app();
    for authorization in [
        format!("Basic {}", STANDARD.encode(format!("elastic:{TOKEN}"))),
        format!(
            "ApiKey {}",
            STANDARD.encode(format!("VuaCfGcBCdbkQm-e5aOx:{TOKEN}"))
        ),
        format!("ApiKey {TOKEN}"),
    ] {
        let mut request = get("/");
        request
            .headers_mut()
            .insert("authorization", authorization.parse().unwrap());
        assert_eq!(
            send(&app, request).await.status,
            StatusCode::OK,
            "{authorization}"
        );
    }
}

#[tokio::test]
async fn bulk_answers_in_elasticsearch_shape() {
    let (app, received) = app();
    let body = concat!(
        "{\"index\":{\"_index\":\"logs-a\",\"_id\":\"id-1\"}}\n",
        "{\"message\":\"one\",\"labels\":{\"env\":\"prod\"}}\n",
        "{\"create\":{}}\n",
        "{\"message\":\"two\"}\n",
    );
    let answer = send(&app, post("/logs-default/_bulk", body)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["errors"], false);
    assert!(answer.body["took"].is_u64());
    let items = answer.body["items"].as_array().unwrap();
    assert_eq!(
        items[0],
        json!({"index": {
            "_index": "logs-a", "_id": "id-1", "_version": 1, "result": "created",
            "_shards": {"total": 1, "successful": 1, "failed": 0},
            "_seq_no": 1, "_primary_term": 1, "status": 201,
        }})
    );
    let created = &items[1]["create"];
    assert_eq!(created["_index"], "logs-default");
    assert_eq!(created["_id"].as_str().unwrap().len(), 20);
    assert_eq!(created["_seq_no"], 2);
    assert_eq!(created["status"], 201);
    assert_eq!(created["result"], "created");

    // Key order matters to nobody, but the exact shape is what shippers parse.
    let keys: Vec<_> = items[0]["index"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        keys,
        [
            "_index",
            "_id",
            "_version",
            "result",
            "_shards",
            "_seq_no",
            "_primary_term",
            "status"
        ]
    );

    let docs = documents(&received);
    assert_eq!(received.lock().unwrap().len(), 1, "one batch per request");
    assert_eq!(
        docs,
        vec![
            (
                json!({"message": "one", "labels": {"env": "prod", "index": "logs-a"}}),
                "{\"message\":\"one\",\"labels\":{\"env\":\"prod\"}}".to_owned()
            ),
            (
                json!({"message": "two", "labels": {"index": "logs-default"}}),
                "{\"message\":\"two\"}".to_owned()
            ),
        ]
    );
}

#[tokio::test]
async fn existing_labels_index_is_kept() {
    let (app, received) = app();
    let body = "{\"index\":{\"_index\":\"x\"}}\r\n{\"labels\":{\"index\":\"mine\"}}\r\n";
    let answer = send(&app, post("/_bulk", body)).await;
    assert_eq!(answer.body["errors"], false);
    assert_eq!(
        documents(&received)[0].0,
        json!({"labels": {"index": "mine"}})
    );
}

#[tokio::test]
async fn update_and_delete_fail_per_item_without_failing_the_rest() {
    let (app, received) = app();
    let body = concat!(
        "{\"update\":{\"_index\":\"a\",\"_id\":\"1\"}}\n",
        "{\"doc\":{\"x\":1}}\n",
        "{\"delete\":{\"_index\":\"a\",\"_id\":\"2\"}}\n",
        "{\"index\":{\"_index\":\"a\"}}\n",
        "{\"ok\":true}\n",
    );
    let answer = send(&app, post("/_bulk", body)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["errors"], true);
    let items = answer.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["update"]["status"], 400);
    assert_eq!(items[0]["update"]["_id"], "1");
    assert_eq!(
        items[0]["update"]["error"]["type"],
        "illegal_argument_exception"
    );
    assert_eq!(items[1]["delete"]["status"], 400);
    assert_eq!(items[1]["delete"]["_index"], "a");
    assert_eq!(items[2]["index"]["status"], 201);
    assert_eq!(documents(&received).len(), 1);
}

#[tokio::test]
async fn invalid_documents_fail_per_item() {
    let (app, received) = app();
    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let body = format!(
        "{action}\n{{not json\n{action}\n[1,2]\n{action}\n\"text\"\n{action}\n{{\"deep\":{deep}}}\n{action}\n{{\"fine\":1}}\n",
        action = "{\"index\":{\"_index\":\"a\"}}"
    );
    let answer = send(&app, post("/_bulk", &body)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["errors"], true);
    let items = answer.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    for item in &items[..4] {
        assert_eq!(item["index"]["status"], 400, "{item}");
        assert_eq!(
            item["index"]["error"]["type"], "mapper_parsing_exception",
            "{item}"
        );
        assert!(
            item["index"]["error"]["caused_by"]["reason"].is_string(),
            "{item}"
        );
    }
    assert_eq!(items[4]["index"]["status"], 201);
    assert_eq!(items[4]["index"]["_seq_no"], 1);
    assert_eq!(documents(&received).len(), 1);
}

#[tokio::test]
async fn malformed_action_or_empty_body_fails_the_request() {
    let (app, received) = app();
    for body in [
        "{\"index\":\n{}\n",
        "{\"upsert\":{}}\n{}\n",
        "[]\n",
        "\n\n",
        "",
    ] {
        let answer = send(&app, post("/_bulk", body)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body:?}");
        assert_eq!(answer.body["status"], 400);
        assert!(answer.body["error"]["type"].is_string());
    }
    assert!(received.lock().unwrap().is_empty());
}

#[tokio::test]
async fn missing_index_and_missing_source_fail_per_item() {
    let (app, _) = app();
    let answer = send(
        &app,
        post(
            "/_bulk",
            "{\"index\":{}}\n{}\n{\"create\":{\"_index\":\"a\"}}\n",
        ),
    )
    .await;
    let items = answer.body["items"].as_array().unwrap();
    assert_eq!(
        items[0]["index"]["error"]["type"],
        "action_request_validation_exception"
    );
    assert_eq!(
        items[1]["create"]["error"]["reason"],
        "Validation Failed: 1: source is missing;"
    );
}

#[tokio::test]
async fn gzip_bodies_are_decompressed() {
    let (app, received) = app();
    let body = "{\"index\":{\"_index\":\"gz\"}}\n{\"message\":\"zipped\"}\n";
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(body.as_bytes()).unwrap();
    let mut request = request(Method::POST, "/_bulk", encoder.finish().unwrap());
    request
        .headers_mut()
        .insert("content-encoding", "gzip".parse().unwrap());
    let answer = send(&app, request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["errors"], false);
    assert_eq!(documents(&received)[0].1, "{\"message\":\"zipped\"}");

    let mut corrupt = post("/_bulk", "not gzip at all");
    corrupt
        .headers_mut()
        .insert("content-encoding", "gzip".parse().unwrap());
    assert_eq!(send(&app, corrupt).await.status, StatusCode::BAD_REQUEST);

    let mut brotli = post("/_bulk", body);
    brotli
        .headers_mut()
        .insert("content-encoding", "br".parse().unwrap());
    assert_eq!(
        send(&app, brotli).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
}

fn small_limits_app() -> (Router, Received) {
    let config: ElasticsearchConfig = serde_json::from_value(json!({
        "max_body_bytes": 1024,
        "max_decompressed_bytes": 4096,
        "max_json_depth": 4,
    }))
    .unwrap();
    let (intake, jobs) = Intake::channel(8);
    (
        config.build().unwrap().router(intake, auth()),
        acking_consumer(jobs),
    )
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let (app, received) = small_limits_app();
    let line = format!(
        "{{\"index\":{{\"_index\":\"a\"}}}}\n{{\"m\":\"{}\"}}\n",
        "x".repeat(2000)
    );
    let answer = send(&app, post("/_bulk", &line)).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.body["status"], 413);

    // A gzip bomb: 512 KiB of zeros compresses to about 512 bytes.
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(&vec![b'0'; 512 * 1024]).unwrap();
    let compressed = encoder.finish().unwrap();
    assert!(compressed.len() < 1024);
    let mut bomb = request(Method::POST, "/_bulk", compressed);
    bomb.headers_mut()
        .insert("content-encoding", "gzip".parse().unwrap());
    assert_eq!(send(&app, bomb).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(received.lock().unwrap().is_empty());
}

#[tokio::test]
async fn nesting_depth_limit_is_per_item() {
    let (app, _) = small_limits_app();
    let body = "{\"index\":{\"_index\":\"a\"}}\n{\"a\":{\"b\":{\"c\":{\"d\":{}}}}}\n{\"index\":{\"_index\":\"a\"}}\n{\"a\":{\"b\":\"[[[[[[\"}}\n";
    let answer = send(&app, post("/_bulk", body)).await;
    let items = answer.body["items"].as_array().unwrap();
    assert_eq!(
        items[0]["index"]["error"]["type"],
        "mapper_parsing_exception"
    );
    assert_eq!(
        items[1]["index"]["status"], 201,
        "brackets inside strings do not count"
    );
}

#[tokio::test]
async fn full_pipeline_answers_429() {
    let (intake, _jobs) = Intake::channel(1);
    // Occupy the only queue slot; nobody consumes it.
    let filler = Batch {
        input_type: "test",
        peer: None,
        sender: None,
        items: vec![Payload::Syslog(b"x".to_vec())],
    };
    let _pending_ack = intake.enqueue_now(filler).unwrap();
    let app = router(intake, auth());
    let answer = send(
        &app,
        post("/_bulk", "{\"index\":{\"_index\":\"a\"}}\n{\"m\":1}\n"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        answer.body["error"]["type"],
        "es_rejected_execution_exception"
    );
    assert_eq!(answer.body["status"], 429);

    let answer = send(&app, post("/a/_doc", "{\"m\":1}")).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn storage_failure_answers_503() {
    let (intake, mut jobs) = Intake::channel(4);
    tokio::spawn(async move {
        while let Some(job) = jobs.recv().await {
            let _ = job
                .ack
                .send(Err(SubmitError::Storage("disk full".to_owned())));
        }
    });
    let app = router(intake, auth());
    let answer = send(
        &app,
        post("/_bulk", "{\"index\":{\"_index\":\"a\"}}\n{\"m\":1}\n"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        !answer.body.to_string().contains("disk full"),
        "internals stay hidden"
    );
}

#[tokio::test]
async fn single_document_endpoints() {
    let (app, received) = app();
    let answer = send(&app, post("/logs/_doc", "{\"m\":1}")).await;
    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(answer.body["_index"], "logs");
    assert_eq!(answer.body["result"], "created");
    assert_eq!(answer.body["_id"].as_str().unwrap().len(), 20);

    let answer = send(&app, request(Method::PUT, "/logs/_doc/my-id", "{\"m\":2}")).await;
    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(answer.body["_id"], "my-id");

    let answer = send(&app, post("/logs/_create/other", "{\"m\":3}")).await;
    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(answer.body["_id"], "other");
    assert_eq!(answer.body["_seq_no"], 3);

    let answer = send(&app, post("/logs/_doc", "[1]")).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["error"]["type"], "mapper_parsing_exception");

    let answer = send(&app, post("/_bad/_doc", "{}")).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["error"]["type"], "invalid_index_name_exception");

    assert_eq!(documents(&received).len(), 3);
}

#[tokio::test]
async fn start_up_calls_get_harmless_answers() {
    let (app, received) = app();
    let calls = [
        (Method::GET, "/_license?human=false"),
        (Method::GET, "/_xpack"),
        (Method::GET, "/_index_template/filebeat-8.17.0"),
        (Method::HEAD, "/_index_template/filebeat-8.17.0"),
        (Method::PUT, "/_index_template/filebeat-8.17.0"),
        (Method::GET, "/_template/logstash"),
        (Method::HEAD, "/_template/logstash"),
        (Method::PUT, "/_template/logstash"),
        (Method::GET, "/_component_template/logs-settings"),
        (Method::PUT, "/_component_template/logs-settings"),
        (Method::GET, "/_ilm/policy/filebeat"),
        (Method::PUT, "/_ilm/policy/filebeat"),
        (Method::GET, "/_ilm/status"),
        (Method::HEAD, "/logs-app"),
        (Method::PUT, "/logs-app"),
        (Method::GET, "/logs-app"),
        (Method::PUT, "/_data_stream/logs-app-default"),
        (Method::GET, "/_data_stream/logs-app-default"),
        (Method::GET, "/_nodes"),
        (Method::GET, "/_nodes/_all/http"),
        (Method::GET, "/_cluster/health"),
        (Method::GET, "/_cluster/health/logs-app"),
        (Method::GET, "/_cat/indices?format=json"),
        (Method::POST, "/logs-app/_refresh"),
        (Method::POST, "/_refresh"),
        (Method::GET, "/_ingest/pipeline/geoip"),
        (Method::PUT, "/_ingest/pipeline/geoip"),
        (Method::HEAD, "/_alias/logstash"),
    ];
    for (method, uri) in calls {
        let answer = send(&app, request(method.clone(), uri, "{}")).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{method} {uri}: {}",
            answer.body
        );
        assert_eq!(answer.headers["x-elastic-product"], "Elasticsearch");
        assert_eq!(answer.headers["content-type"], "application/json");
    }
    let license = send(&app, get("/_license")).await.body;
    assert_eq!(license["license"]["type"], "basic");
    assert_eq!(license["license"]["status"], "active");
    assert!(received.lock().unwrap().is_empty());
}

#[tokio::test]
async fn unknown_routes_get_404_and_wrong_methods_405() {
    let (app, _) = app();
    for uri in [
        "/_security/_authenticate",
        "/_security",
        "/a/b/c/d",
        "/logs/_search",
    ] {
        let answer = send(&app, get(uri)).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(answer.body["status"], 404);
        assert_eq!(answer.headers["x-elastic-product"], "Elasticsearch");
    }
    let answer = send(&app, request(Method::DELETE, "/_bulk", Body::empty())).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.body["status"], 405);
}

#[test]
fn generated_ids_are_unique_and_shaped_like_elasticsearch() {
    let ids = bulk::IdGenerator::new();
    let first = ids.next();
    let second = ids.next();
    assert_eq!(first.len(), 20);
    assert_ne!(first, second);
    assert!(
        first
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
}

#[test]
fn depth_scan_ignores_brackets_in_strings() {
    assert!(!bulk::exceeds_depth(br#"{"a":"[[[[\"[[[["}"#, 1));
    assert!(bulk::exceeds_depth(br#"{"a":{"b":[]}}"#, 2));
    assert!(!bulk::exceeds_depth(br#"{"a":{"b":[]}}"#, 3));
}

#[test]
fn config_rejects_bad_limits() {
    let config: ElasticsearchConfig =
        serde_json::from_value(json!({"max_json_depth": 1000})).unwrap();
    assert!(config.build().is_err());
    assert!(serde_json::from_value::<ElasticsearchConfig>(json!({"nope": 1})).is_err());
}
