//! The Elasticsearch-compatible API over a real socket, driven by the official Python
//! client when it is installed.

use std::{net::SocketAddr, process::Command, sync::Arc};

use ingest::{auth::TokenCheck, sources::elasticsearch};
use pipeline::Intake;

use crate::support::Consumer;

const TOKEN: &str = "s3cret";

/// Exercises what shippers and scripts do: info, ping, index, bulk (gzip too), index
/// creation, and a refused token, with each way of authenticating.
const CLIENT_SCRIPT: &str = r#"
import sys
from elasticsearch import Elasticsearch, AuthenticationException, helpers

url, token = sys.argv[1], sys.argv[2]
clients = [
    Elasticsearch(url, bearer_auth=token),
    Elasticsearch(url, basic_auth=("elastic", token), http_compress=True),
    Elasticsearch(url, api_key=("key-id", token)),
]
for n, es in enumerate(clients):
    info = es.info()
    assert info["version"]["number"] == "8.17.0", info
    assert es.ping()
    created = es.index(index="py-logs", document={"message": f"single {n}"})
    assert created["result"] == "created", created
    n_ok, errors = helpers.bulk(
        es, ({"_index": "py-logs", "message": f"bulk {n} {i}"} for i in range(25))
    )
    assert n_ok == 25 and not errors, errors
    es.indices.create(index=f"py-new-{n}")
    assert es.indices.exists(index=f"py-new-{n}")
    es.indices.refresh(index="py-logs")

try:
    Elasticsearch(url, bearer_auth="wrong").info()
    raise SystemExit("wrong token accepted")
except AuthenticationException:
    pass
print("python client ok", sys.modules["elasticsearch"].__version__)
"#;

fn python_client_available() -> bool {
    Command::new("python3")
        .args(["-c", "import elasticsearch"])
        .output()
        .is_ok_and(|output| output.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_client_works_unchanged() {
    if !python_client_available() {
        println!(
            "note: skipped: python3 with the `elasticsearch` package is not installed \
             (pip install 'elasticsearch>=8,<10')"
        );
        return;
    }
    let (intake, jobs) = Intake::channel(8);
    let consumer = Consumer::acking(jobs);
    let auth: Arc<dyn TokenCheck> = Arc::new(|token: &str| token == TOKEN);
    let app = elasticsearch::router(intake, auth);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });

    let url = format!("http://{addr}");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(["-c", CLIENT_SCRIPT, &url, TOKEN])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    println!("{stdout}");

    let docs = consumer.documents();
    assert_eq!(docs.len(), 3 * 26);
    assert!(docs.iter().all(|doc| doc["labels"]["index"] == "py-logs"));
    let mut messages: Vec<&str> = docs
        .iter()
        .map(|doc| doc["message"].as_str().unwrap())
        .collect();
    messages.sort_unstable();
    assert!(messages.contains(&"single 1"));
    assert!(messages.contains(&"bulk 2 24"));
    server.abort();
}
