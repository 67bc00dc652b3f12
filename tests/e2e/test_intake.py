"""Real clients ship to a real server: util-linux `logger`, the Python Elasticsearch client, HTTP."""

import gzip
import json
import subprocess
import uuid

import pytest
from elasticsearch import Elasticsearch, helpers


@pytest.mark.parametrize(
    "transport,fmt",
    [
        (["-d"], "--rfc3164"),
        (["-d"], "--rfc5424"),
        (["-T"], "--rfc3164"),
        (["-T"], "--rfc5424"),
        (["-T", "--octet-count"], "--rfc5424"),
    ],
)
def test_logger_messages_are_stored_and_searchable(server, transport, fmt):
    marker = uuid.uuid4().hex
    message = f"Failed password for invalid user mallory from 203.0.113.77 port 4242 ssh2 {marker}"
    subprocess.run(
        ["logger", "-n", "127.0.0.1", "-P", str(server.syslog_port), *transport, fmt,
         "-t", "sshd", "-i", message],
        check=True,
    )
    assert server.wait_total(marker, 1) == 1
    hit = server.search(marker)["hits"][0]
    assert hit["log"]["parser"].startswith("syslog.rfc")
    assert hit["input"]["type"] in ("syslog-udp", "syslog-tcp")
    assert marker in hit["event"]["original"]
    # The sshd line is understood, not just stored.
    assert hit["source"]["ip"] == "203.0.113.77"
    assert hit["user"]["name"] == "mallory"
    assert server.search(f"source.ip:203.0.113.0/24 AND {marker}")["total"] == 1


def test_python_elasticsearch_client_bulk_loads_10000_documents(server):
    es = Elasticsearch(server.es_url, api_key=server.token, request_timeout=120)
    assert es.info()["version"]["number"].startswith("8.")
    run = uuid.uuid4().hex[:12]
    docs = (
        {
            "_index": "logs-test",
            "_source": {
                "@timestamp": "2024-06-01T12:00:00Z",
                "message": f"login ok {i}",
                "user": {"name": f"user{i}"},
                "labels": {"run": run},
                "source": {"ip": f"10.0.{i // 256}.{i % 256}"},
            },
        }
        for i in range(10_000)
    )
    ok, errors = helpers.bulk(es, docs, chunk_size=2_000)
    assert ok == 10_000 and not errors
    assert server.wait_total(f"labels.run:{run}", 10_000) == 10_000
    assert server.search(f"labels.run:{run} AND user.name:user4242")["total"] == 1
    assert server.search(f"labels.run:{run} AND source.ip:10.0.16.0/24")["total"] == 256


def test_http_ingest_ndjson_array_and_gzip(server):
    run = uuid.uuid4().hex[:12]
    ndjson = "\n".join(json.dumps({"message": f"nd {i}", "labels": {"run": run}}) for i in range(3))
    status, body = server.request("POST", "/api/v1/ingest", ndjson.encode(), {"Content-Type": "application/x-ndjson"})
    assert status == 200 and body["accepted"] == 3, body
    status, body = server.request("POST", "/api/v1/ingest", [{"message": "arr", "labels": {"run": run}}])
    assert status == 200 and body["accepted"] == 1, body
    packed = gzip.compress(json.dumps({"message": "gz", "labels": {"run": run}}).encode())
    status, body = server.request("POST", "/api/v1/ingest", packed, {"Content-Encoding": "gzip"})
    assert status == 200 and body["accepted"] == 1, body
    # A bad line is reported with its number; the good ones around it are kept.
    mixed = b'{"message":"good1","labels":{"run":"%s"}}\n{not json\n{"message":"good2","labels":{"run":"%s"}}\n' % (run.encode(), run.encode())
    status, body = server.request("POST", "/api/v1/ingest", mixed)
    assert status == 200 and body["accepted"] == 2 and body["rejected"] == 1, body
    assert body["errors"][0]["line"] == 2
    assert server.wait_total(f"labels.run:{run}", 7) == 7


def test_every_route_but_health_requires_the_token(server):
    routes = [
        ("GET", "/api/v1/search?q=*"), ("POST", "/api/v1/search"), ("POST", "/api/v1/ingest"),
        ("POST", "/api/v1/ingest/records"), ("POST", "/api/v1/store/refresh"), ("GET", "/api/v1/stats"),
        ("GET", "/metrics"), ("GET", "/api/v1/does-not-exist"),
    ]
    for method, path in routes:
        status, _ = server.request(method, path, b"{}" if method == "POST" else None, token=False)
        assert status == 401, (method, path)
        status, _ = server.request(method, path, b"{}" if method == "POST" else None,
                                   headers={"Authorization": "Bearer wrong"})
        assert status == 401, (method, path)
    status, body = server.request("GET", "/health", token=False)
    assert status == 200 and body["status"] == "ok"
    es = Elasticsearch(server.es_url, api_key="wrong-token")
    with pytest.raises(Exception):
        es.info()


def test_token_file_is_private(server):
    mode = (server.data_dir / "admin.token").stat().st_mode & 0o777
    assert mode == 0o600


def test_metrics_are_prometheus_text(server):
    subprocess.run(["logger", "-n", "127.0.0.1", "-P", str(server.syslog_port), "-T", "hello metrics"], check=True)
    server.wait_total("metrics", 1)
    status, text = server.request("GET", "/metrics")
    assert status == 200
    assert "pipeline_events_stored_total" in text
    assert "store_events_indexed_total" in text
