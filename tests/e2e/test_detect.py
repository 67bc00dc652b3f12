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
