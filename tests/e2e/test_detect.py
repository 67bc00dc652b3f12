"""Live detection: `serve --rules` evaluates Sigma rules on ingested events and stores alerts."""

import subprocess
import time

import pytest

from conftest import BIN, SHARED, Server

CASE = SHARED / "sigma" / "regression_data" / "rules" / "windows" / "process_creation" / "proc_creation_win_curl_custom_user_agent"
RULE_ID = "85de1f22-d189-44e4-8239-dc276b45379b"


@pytest.fixture
def detecting_server(tmp_path):
    srv = Server(tmp_path / "data", tmp_path / "server.log",
                 extra_args=["--rules", str(SHARED / "sigma" / "rules" / "windows")]).start()
    yield srv
    srv.stop()


def wait_alerts(server, q, expected, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, body = server.request("GET", f"/api/v1/alerts?q={q}&limit=10")
        assert status == 200, body
        if body["total"] >= expected:
            return body
        time.sleep(0.3)
    return body


def test_imported_attack_raises_the_rule_alert_once(detecting_server, tmp_path):
    server = detecting_server
    evtx = next(CASE.glob("*.evtx"))
    result = subprocess.run([BIN, "import", "--data-dir", str(server.data_dir), "--server", server.url, str(evtx)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    body = wait_alerts(server, f"rule.id:{RULE_ID}", 1)
    assert body["total"] == 1, body["total"]
    alert = body["hits"][0]
    assert alert["event"]["kind"] == "alert"
    assert alert["rule"]["name"] == "Curl Web Request With Potential Custom User-Agent"
    assert alert["rule"]["author"]  # Sigma DRL attribution travels with every alert
    assert alert["sentinella"]["alert"]["event"]["winlog"]["event_id"] == "1"
    assert alert["sentinella"]["alert"]["matched"]["selections"]
    # Alerts are events too: searchable, and not counted as the ingested events.
    assert server.search("event.kind:alert", limit=0)["total"] >= 1
    assert server.search("NOT event.kind:alert", limit=0)["total"] >= 1
    table = subprocess.run([BIN, "alerts", f"rule.id:{RULE_ID}", "--data-dir", str(server.data_dir), "--server", server.url],
                           capture_output=True, text=True, check=True).stdout
    assert "Curl Web Request" in table and "1 of 1" in table


def test_alerts_survive_a_kill9_restart(detecting_server):
    server = detecting_server
    evtx = next(CASE.glob("*.evtx"))
    subprocess.run([BIN, "import", "--data-dir", str(server.data_dir), "--server", server.url, str(evtx)],
                   capture_output=True, check=True, timeout=600)
    server.kill9()
    server.start()
    status, body = server.request("GET", f"/api/v1/alerts?q=rule.id:{RULE_ID}")
    assert status == 200 and body["total"] == 1, body


def test_alerts_endpoint_requires_the_token(detecting_server):
    status, _ = detecting_server.request("GET", "/api/v1/alerts", token=False)
    assert status == 401


CORRELATED = """title: Failed logon
id: aaaaaaaa-0000-0000-0000-000000000001
name: failed_logon
logsource: {product: windows, service: security}
detection:
  selection:
    EventID: 4625
  condition: selection
level: low
---
title: Many failed logons for one user
id: aaaaaaaa-0000-0000-0000-000000000002
correlation:
  type: event_count
  rules: [failed_logon]
  group-by: [TargetUserName]
  timespan: 10m
  condition: {gte: 3}
  generate: false
level: high
"""


def failed_logon(ts, user):
    return {"@timestamp": ts, "host": {"name": "dc-1"},
            "winlog": {"channel": "Security", "event_id": "4625", "event_data": {"TargetUserName": user}}}


def test_correlation_windows_survive_a_clean_restart(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "correlated.yml").write_text(CORRELATED)
    server = Server(tmp_path / "data", tmp_path / "server.log", extra_args=["--rules", str(rules)]).start()
    try:
        for ts in ("2024-05-01T10:00:00Z", "2024-05-01T10:01:00Z"):
            status, body = server.request("POST", "/api/v1/ingest", [failed_logon(ts, "bob")])
            assert status == 200, body
        server.stop()  # clean stop: the open window is saved
        assert (server.data_dir / "correlation-state.json").exists()
        server.start()
        status, body = server.request("POST", "/api/v1/ingest", [failed_logon("2024-05-01T10:02:00Z", "bob")])
        assert status == 200, body
        body = wait_alerts(server, "rule.id:aaaaaaaa-0000-0000-0000-000000000002", 1)
        assert body["total"] == 1, body
        assert body["hits"][0]["sentinella"]["alert"]["correlation"]["count"] == 3
        # generate: false: the base rule raised no alert of its own.
        status, body = server.request("GET", "/api/v1/alerts?q=rule.id:aaaaaaaa-0000-0000-0000-000000000001")
        assert body["total"] == 0
    finally:
        server.stop()


def test_correlation_windows_survive_a_kill9_within_the_save_interval(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "correlated.yml").write_text(CORRELATED)
    server = Server(tmp_path / "data", tmp_path / "server.log", extra_args=["--rules", str(rules)]).start()
    state = server.data_dir / "correlation-state.json"
    try:
        for ts in ("2024-05-01T10:00:00Z", "2024-05-01T10:01:00Z"):
            status, body = server.request("POST", "/api/v1/ingest", [failed_logon(ts, "carol")])
            assert status == 200, body
        # Saved every 10 s while it changes, without a shutdown.
        deadline = time.time() + 60
        while time.time() < deadline and "carol" not in (state.read_text() if state.exists() else ""):
            time.sleep(0.5)
        assert "carol" in state.read_text()
        server.kill9()
        server.start()
        status, body = server.request("POST", "/api/v1/ingest", [failed_logon("2024-05-01T10:02:00Z", "carol")])
        assert status == 200, body
        body = wait_alerts(server, "rule.id:aaaaaaaa-0000-0000-0000-000000000002", 1)
        assert body["total"] == 1, body
        assert body["hits"][0]["sentinella"]["alert"]["correlation"]["count"] == 3
    finally:
        server.stop()
