"""Live detection: `serve --rules` evaluates Sigma rules on ingested events and stores alerts."""

import time

import pytest

from conftest import SHARED
from helpers import cli, correlated_rules, failed_logon, ingest, rules_dir, start_with_rules, wait_alerts

CASE = SHARED / "sigma" / "regression_data" / "rules" / "windows" / "process_creation" / "proc_creation_win_curl_custom_user_agent"
RULE_ID = "85de1f22-d189-44e4-8239-dc276b45379b"


@pytest.fixture
def detecting_server(tmp_path):
    srv = start_with_rules(tmp_path, SHARED / "sigma" / "rules" / "windows")
    yield srv
    srv.stop()


def test_imported_attack_raises_the_rule_alert_once(detecting_server, tmp_path):
    server = detecting_server
    evtx = next(CASE.glob("*.evtx"))
    cli(server, "import", evtx, timeout=600)
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
    table = cli(server, "alerts", f"rule.id:{RULE_ID}").stdout.decode()
    assert "Curl Web Request" in table and "1 of 1" in table


def test_alerts_survive_a_kill9_restart(detecting_server):
    server = detecting_server
    evtx = next(CASE.glob("*.evtx"))
    cli(server, "import", evtx, timeout=600)
    server.kill9()
    server.start()
    status, body = server.request("GET", f"/api/v1/alerts?q=rule.id:{RULE_ID}")
    assert status == 200 and body["total"] == 1, body


def test_alerts_endpoint_requires_the_token(detecting_server):
    status, _ = detecting_server.request("GET", "/api/v1/alerts", token=False)
    assert status == 401


CORRELATED = correlated_rules("aaaaaaaa", "failed_logon", generate=False)


def test_correlation_windows_survive_a_clean_restart(tmp_path):
    server = start_with_rules(tmp_path, rules_dir(tmp_path, correlated=CORRELATED))
    try:
        for ts in ("2024-05-01T10:00:00Z", "2024-05-01T10:01:00Z"):
            ingest(server, failed_logon(ts, "bob"))
        server.stop()  # clean stop: the open window is saved
        assert (server.data_dir / "correlation-state.json").exists()
        server.start()
        ingest(server, failed_logon("2024-05-01T10:02:00Z", "bob"))
        body = wait_alerts(server, "rule.id:aaaaaaaa-0000-0000-0000-000000000002", 1)
        assert body["total"] == 1, body
        assert body["hits"][0]["sentinella"]["alert"]["correlation"]["count"] == 3
        # generate: false: the base rule raised no alert of its own.
        status, body = server.request("GET", "/api/v1/alerts?q=rule.id:aaaaaaaa-0000-0000-0000-000000000001")
        assert body["total"] == 0
    finally:
        server.stop()


def test_correlation_windows_survive_a_kill9_within_the_save_interval(tmp_path):
    server = start_with_rules(tmp_path, rules_dir(tmp_path, correlated=CORRELATED))
    state = server.data_dir / "correlation-state.json"
    try:
        for ts in ("2024-05-01T10:00:00Z", "2024-05-01T10:01:00Z"):
            ingest(server, failed_logon(ts, "carol"))
        # Saved every 10 s while it changes, without a shutdown.
        deadline = time.time() + 60
        while time.time() < deadline and "carol" not in (state.read_text() if state.exists() else ""):
            time.sleep(0.5)
        assert "carol" in state.read_text()
        server.kill9()
        server.start()
        ingest(server, failed_logon("2024-05-01T10:02:00Z", "carol"))
        body = wait_alerts(server, "rule.id:aaaaaaaa-0000-0000-0000-000000000002", 1)
        assert body["total"] == 1, body
        assert body["hits"][0]["sentinella"]["alert"]["correlation"]["count"] == 3
    finally:
        server.stop()
